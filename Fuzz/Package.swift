// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for every parser of outside data (issue 9). Build and run with tools/fuzz:
//   swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
// In release the parsers get the flags `prism` ships with (../Package.swift: -O, checked, and
// -Ounchecked in PrismKernels only), so the fuzzers test what ships, plus the sanitizers.
// Each target is an executable whose LLVMFuzzerTestOneInput hands the bytes to one parser.
let package = Package(
    name: "logit-prisms-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "logit-prisms", path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        .target(name: "FuzzSupport", dependencies: [.product(name: "PrismFormats", package: "logit-prisms")]),
        .executableTarget(name: "FuzzSafeTensors", dependencies: ["FuzzDriver", .product(name: "PrismFormats", package: "logit-prisms")]),
        .executableTarget(name: "FuzzSafeTensorsIndex", dependencies: ["FuzzDriver", .product(name: "PrismFormats", package: "logit-prisms")]),
        .executableTarget(name: "FuzzConfig", dependencies: ["FuzzDriver", .product(name: "PrismModel", package: "logit-prisms")]),
        .executableTarget(name: "FuzzTokenizer", dependencies: ["FuzzDriver", .product(name: "PrismTokenizer", package: "logit-prisms")]),
        .executableTarget(name: "FuzzModelFile", dependencies: ["FuzzDriver", "FuzzSupport", .product(name: "PrismModel", package: "logit-prisms"), .product(name: "PrismFormats", package: "logit-prisms"), .product(name: "PrismTokenizer", package: "logit-prisms")]),
        .executableTarget(name: "FuzzActivationStore", dependencies: ["FuzzDriver", "FuzzSupport", .product(name: "PrismFormats", package: "logit-prisms")]),
        .executableTarget(name: "FuzzGGUF", dependencies: ["FuzzDriver", .product(name: "PrismFormats", package: "logit-prisms")]),
        .executableTarget(name: "FuzzBatchInput", dependencies: ["FuzzDriver", .product(name: "PrismBatch", package: "logit-prisms")]),
    ],
    swiftLanguageModes: [.v5]
)
