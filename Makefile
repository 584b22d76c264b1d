# The C core as a static library, and its unit tests under AddressSanitizer and UBSan.
#   make          out/libshmem.a
#   make test     builds and runs test/c/*.c against the core's sources
#   make examples the C programs in examples/c/ (out/examples/*), linked with out/libshmem.a
CC ?= cc
CFLAGS ?= -O2 -g
WARN = -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter
SAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CORE = $(wildcard src/*.c)
OBJ = $(patsubst src/%.c,out/obj/%.o,$(CORE))
TESTS = $(patsubst test/c/%.c,out/test/%,$(wildcard test/c/test_*.c))
LIBS = $(shell [ "$$(uname)" = Linux ] && echo -lpthread -lrt)

all: out/libshmem.a

out/obj/%.o: src/%.c include/shmem.h src/internal.h src/channel_internal.h
	@mkdir -p out/obj
	$(CC) $(WARN) $(CFLAGS) -fPIC -Iinclude -c $< -o $@

out/libshmem.a: $(OBJ)
	ar rcs $@ $^

out/test/%: test/c/%.c $(CORE) include/shmem.h src/internal.h src/channel_internal.h test/c/check.h test/c/no_proc.h
	@mkdir -p out/test
	$(CC) $(WARN) -O1 -g $(SAN) -Iinclude -Isrc $< $(CORE) -o $@ $(LIBS)

EXAMPLES = $(patsubst examples/c/%.c,out/examples/%,$(wildcard examples/c/*.c))

out/examples/%: examples/c/%.c out/libshmem.a include/shmem.h
	@mkdir -p out/examples
	$(CC) $(WARN) $(CFLAGS) -Iinclude $< out/libshmem.a -o $@ $(LIBS)

examples: $(EXAMPLES)

test: $(TESTS)
	@status=0; for t in $(TESTS); do ASAN_OPTIONS=detect_leaks=1 $$t || status=1; done; exit $$status

clean:
	rm -rf out

.PHONY: all test clean examples
