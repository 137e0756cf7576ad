# Build a static tinyscale binary with version information.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build test demo bench fuzz clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/tinyscale ./cmd/tinyscale
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/fakebbb ./cmd/fakebbb

test:
	go test -race -count=1 ./...

demo:
	go run ./cmd/tinyscale demo

bench:
	bench/run.sh

# Run every fuzz target for FUZZTIME each.
FUZZTIME ?= 15s
fuzz:
	@for pkg in $$(go list ./...); do \
		for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin bench/out
