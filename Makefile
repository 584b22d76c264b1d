# The C core as a static library, and its unit tests under AddressSanitizer and UBSan.
#   make          out/libshmem.a
#   make test     builds and runs test/c/*.c against the core's sources (a clone of the
#                 repository only: the rules live in test/c/test.mk, which npm does not ship)
#   make examples the C programs in examples/c/ (out/examples/*), linked with out/libshmem.a
CC ?= cc
CFLAGS ?= -O2 -g
WARN = -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter
CORE = $(wildcard src/*.c)
OBJ = $(patsubst src/%.c,out/obj/%.o,$(CORE))
LIBS = $(shell [ "$$(uname)" = Linux ] && echo -lpthread -lrt)

all: out/libshmem.a

out/obj/%.o: src/%.c include/shmem.h src/internal.h src/channel_internal.h src/shared_map_internal.h
	@mkdir -p out/obj
	$(CC) $(WARN) $(CFLAGS) -fPIC -Iinclude -c $< -o $@

out/libshmem.a: $(OBJ)
	ar rcs $@ $^

EXAMPLES = $(patsubst examples/c/%.c,out/examples/%,$(wildcard examples/c/*.c))

out/examples/%: examples/c/%.c out/libshmem.a include/shmem.h
	@mkdir -p out/examples
	$(CC) $(WARN) $(CFLAGS) -Iinclude $< out/libshmem.a -o $@ $(LIBS)

examples: $(EXAMPLES)

clean:
	rm -rf out

.PHONY: all clean examples

# The unit tests' rules (make test) come with the tests.
-include test/c/test.mk
# The fuzz targets' rules (make fuzz-build), likewise.
-include test/fuzz/fuzz.mk
