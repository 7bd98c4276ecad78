# The two set-up commands of the README. Each installs what is missing first.
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
MODEL ?= models/tiny-gemma.prism

.PHONY: deps run test release format lint

deps:
	bash tools/install-deps.sh

release: deps
	$(SWIFT) build -c release --product prism

# The main job on the shipped model.
run: release
	.build/release/prism decompose -m $(MODEL) --prompt "The capital of France is" --target-token " Paris" --top 5

# The tree's formatting (.swift-format): `make format` rewrites, `make lint` checks.
format:
	$(SWIFT) format -i -r Sources Tests Fuzz/Sources Package.swift

lint:
	$(SWIFT) format lint --strict -r Sources Tests Fuzz/Sources Package.swift

# The test suite (what CI runs), the formatting check first.
test: deps lint
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing
