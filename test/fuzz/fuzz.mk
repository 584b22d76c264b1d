# `make fuzz-build` (included by the Makefile at the root): builds each test/fuzz/fuzz_*.c
# with the core's sources as a libFuzzer target under AddressSanitizer and UBSan, into
# out/fuzz/. clang only (libFuzzer is clang's). `npm run fuzz` builds and runs them
# (scripts/fuzz.js); docs/fuzzing.md says what each one feeds.
FUZZ_CC ?= clang
FUZZ_SAN = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS ?=
FUZZ_TARGETS = $(patsubst test/fuzz/%.c,out/fuzz/%,$(wildcard test/fuzz/fuzz_*.c))

out/fuzz/%: test/fuzz/%.c $(CORE) include/shmem.h src/internal.h src/channel_internal.h src/shared_map_internal.h test/fuzz/expect.h
	@mkdir -p out/fuzz
	$(FUZZ_CC) $(WARN) -O1 -g $(FUZZ_SAN) $(FUZZ_CFLAGS) -Iinclude -Isrc $< $(CORE) -o $@ $(LIBS)

fuzz-build: $(FUZZ_TARGETS)

.PHONY: fuzz-build
