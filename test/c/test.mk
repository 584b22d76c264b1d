# `make test` (included by the Makefile at the root): builds each test/c/test_*.c with the
# core's sources under AddressSanitizer and UBSan, and runs it. It lives here, not in the
# Makefile, because the npm package ships the Makefile but not test/c.
SAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TESTS = $(patsubst test/c/%.c,out/test/%,$(wildcard test/c/test_*.c))

out/test/%: test/c/%.c $(CORE) include/shmem.h src/internal.h src/channel_internal.h src/shared_map_internal.h test/c/check.h test/c/no_proc.h
	@mkdir -p out/test
	$(CC) $(WARN) -O1 -g $(SAN) -Iinclude -Isrc $< $(CORE) -o $@ $(LIBS)

test: $(TESTS)
	@status=0; for t in $(TESTS); do ASAN_OPTIONS=detect_leaks=1 $$t || status=1; done; exit $$status

.PHONY: test
