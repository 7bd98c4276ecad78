// swift-tools-version:6.0
import PackageDescription

// One module per concern (see README "Where things live"):
//   PrismSupport  errors, memory-mapped files, sizes, small JSON helpers
//   PrismFormats  safetensors, the converted .prism file, the activation store
//   PrismKernels  matrix products over f32/bf16/f16/int8 weights (OpenBLAS + SIMD)
//   PrismTokenizer  Gemma's tokenizer.json, bit-exact with Hugging Face tokenizers
//   PrismModel    Gemma config, weights and the forward pass that records activations
//   PrismConvert  checkpoint -> .prism conversion (streaming, quantizing)
//   Prisms        the logit decompositions
//   PrismSession  the pipeline every caller runs: open once, tokenizer once, targets, plans
//   PrismBench    the measurements `prism bench` runs (forward, prisms' cost, read floor)
//   PrismBatch    memory-budgeted, resumable, shardable batch jobs
//   PrismPlots    SVG figures and self-contained HTML reports
//   PrismStudies  the article's studies (capitals, addition, digits) as reports
//   PrismExplorer  `prism explore`: one self-contained interactive HTML page per decomposition
//   PrismOutputs  the commands' outputs: tables, CSV and NPY sets, JSON objects (testable without the CLI)
//   prism         the command-line tool
// -Ounchecked (no overflow, bounds or precondition traps) only for the kernels: their inner loops
// are over shapes the callers have already checked. Every module that reads outside input
// (files, prompts, batch lines, tokenizer.json) keeps the checks and builds with plain -O.
// The fuzz package (Fuzz/, tools/fuzz) builds in release too, so it tests these same flags.
// Swift 6 language mode (strict concurrency checking) on every library target but two:
// PrismKernels, PrismConvert and PrismBench hand raw buffers to DispatchQueue.concurrentPerform, which Swift 6
// rejects without a Sendable wrapper per call site (42 and 10 errors); they and the executable
// stay in Swift 5 mode for now.
let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]
let kernelsRelease: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
    // Debug builds (the test suite) optimize the hot loops too: the real-model tests run a
    // 638-token prompt through gemma-3-270m, minutes at -Onone.
    .unsafeFlags(["-O"], .when(configuration: .debug)),
]
// The forward pass, the prisms and the converter, optimized in debug builds for the same reason
// (checks kept: plain -O).
let optimizedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "logit-prisms",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "prism", targets: ["prism"]),
        // Libraries for the fuzz package in Fuzz/ (it depends on this package by path).
        .library(name: "PrismFormats", targets: ["PrismFormats"]),
        .library(name: "PrismTokenizer", targets: ["PrismTokenizer"]),
        .library(name: "PrismModel", targets: ["PrismModel"]),
        .library(name: "PrismBatch", targets: ["PrismBatch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        .systemLibrary(name: "CBLAS", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLZ4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CXXHash", providers: [.apt(["libxxhash-dev"])]),
        .target(name: "CPrismKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "CPrismFiles"),
        .target(name: "PrismSupport", dependencies: ["CPrismFiles"], swiftSettings: swift6),
        .target(name: "PrismFormats", dependencies: ["PrismSupport", "CLZ4", "CXXHash"], swiftSettings: swift6),
        .target(name: "PrismKernels", dependencies: ["PrismSupport", "CBLAS", "CPrismKernels"], swiftSettings: kernelsRelease),
        .target(name: "PrismTokenizer", dependencies: ["PrismSupport"], swiftSettings: swift6),
        .target(name: "PrismModel", dependencies: ["PrismSupport", "PrismFormats", "PrismKernels"], swiftSettings: swift6 + optimizedInDebug),
        .target(
            name: "PrismConvert", dependencies: ["PrismSupport", "PrismFormats", "PrismKernels", "PrismModel", "PrismTokenizer"],
            swiftSettings: optimizedInDebug),
        .target(name: "Prisms", dependencies: ["PrismSupport", "PrismModel", "PrismKernels"], swiftSettings: swift6 + optimizedInDebug),
        .target(name: "PrismSession", dependencies: ["PrismSupport", "PrismKernels", "PrismModel", "PrismTokenizer", "Prisms"], swiftSettings: swift6),
        .target(
            name: "PrismBatch", dependencies: ["PrismSupport", "PrismFormats", "PrismKernels", "PrismModel", "PrismTokenizer", "Prisms", "PrismSession"],
            swiftSettings: swift6),
        .target(name: "PrismBench", dependencies: ["PrismSupport", "PrismKernels", "PrismModel", "PrismSession", "Prisms"]),
        .target(name: "PrismPlots", swiftSettings: swift6),
        .target(
            name: "PrismStudies", dependencies: ["PrismSupport", "PrismFormats", "PrismModel", "PrismTokenizer", "Prisms", "PrismPlots", "PrismSession"],
            swiftSettings: swift6),
        .target(
            name: "PrismOutputs", dependencies: ["PrismSupport", "PrismFormats", "PrismModel", "PrismSession", "Prisms"], swiftSettings: swift6),
        .target(name: "PrismExplorer", dependencies: ["PrismSupport", "PrismKernels", "PrismModel", "Prisms"], swiftSettings: swift6 + optimizedInDebug),
        .executableTarget(
            name: "prism",
            dependencies: [
                "PrismSupport", "PrismFormats", "PrismKernels", "PrismTokenizer", "PrismModel", "PrismConvert", "Prisms", "PrismStudies", "PrismBatch",
                "PrismSession", "PrismBench", "PrismExplorer", "PrismOutputs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "PrismSupportTests", dependencies: ["PrismSupport"]),
        .testTarget(name: "PrismFormatsTests", dependencies: ["PrismFormats"], resources: []),
        .testTarget(name: "PrismKernelsTests", dependencies: ["PrismKernels", "CPrismKernels"]),
        .testTarget(name: "PrismTokenizerTests", dependencies: ["PrismTokenizer"]),
        .testTarget(name: "PrismModelTests", dependencies: ["PrismModel", "PrismFormats"]),
        .testTarget(name: "PrismConvertTests", dependencies: ["PrismConvert", "PrismModel", "PrismFormats", "PrismKernels", "Prisms"]),
        .testTarget(name: "RealModelTests", dependencies: ["PrismConvert", "PrismModel", "PrismFormats", "Prisms", "PrismTokenizer", "PrismSupport"]),
        .testTarget(name: "PrismPlotsTests", dependencies: ["PrismPlots"]),
        .testTarget(name: "PrismStudiesTests", dependencies: ["PrismStudies", "PrismModel", "PrismConvert"]),
        .testTarget(name: "PrismsTests", dependencies: ["Prisms", "PrismModel"]),
        .testTarget(name: "PrismSessionTests", dependencies: ["PrismSession", "PrismModel", "PrismTokenizer", "Prisms", "PrismSupport", "PrismKernels"]),
        .testTarget(name: "PrismBatchTests", dependencies: ["PrismBatch", "PrismSupport"]),
        .testTarget(name: "PrismExplorerTests", dependencies: ["PrismExplorer", "PrismModel", "Prisms", "PrismSession"]),
        .testTarget(name: "PrismBenchTests", dependencies: ["PrismBench"]),
        .testTarget(name: "PrismOutputsTests", dependencies: ["PrismOutputs", "PrismSession", "Prisms", "PrismFormats", "PrismSupport"]),
        .testTarget(name: "PrismCLITests", dependencies: ["prism", "PrismFormats"]),
        // Inputs the fuzz targets in Fuzz/ found, replayed through the same parsers.
        .testTarget(name: "FuzzRegressionTests", dependencies: ["PrismFormats", "PrismModel", "PrismTokenizer", "PrismBatch"]),
    ],
    swiftLanguageModes: [.v5]
)
