# ngx_chat: build the nginx module, the tests and the tools.
#
#   make            the module, build/ngx_chat_module.so (for Debian's nginx)
#   make run        the whole system in the foreground (Ctrl-C stops it)
#   make test       every test: unit, integration, integration under ASan
#   make asan       the module built with ASan+UBSan, build/asan/
#   make fuzz       each fuzz target for FUZZ_SECONDS (default 60)
#
# NGINX_SRC names the nginx source tree to build against (default: the one
# Debian's nginx-dev installs). Everything built goes under build/.

NGINX_SRC    ?= /usr/share/nginx/src
BUILD        ?= build
CC           ?= cc
FUZZ_SECONDS ?= 60

COMMON_SRCS  := $(wildcard common/*.c)
COMMON_HDRS  := $(wildcard common/*.h)
MODULE_SRCS  := $(wildcard ngx_chat_module/*.c ngx_chat_module/*.h)
UNIT_TESTS   := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/test_*.c))
FUZZ_TARGETS := $(patsubst t/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard t/fuzz/fuzz_*.c))

SANITIZE     := -fsanitize=address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=undefined
UNIT_CFLAGS  := -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O1 -g \
                $(SANITIZE) -Icommon
LIBS         := -ljansson

.PHONY: all module asan unit fuzz test run deps clean

all: module

deps:
	@scripts/deps

module: $(BUILD)/ngx_chat_module.so

$(BUILD)/ngx_chat_module.so: config $(COMMON_SRCS) $(COMMON_HDRS) $(MODULE_SRCS)
	scripts/build-module "$(NGINX_SRC)" "$(BUILD)/nginx" "$@"

asan: $(BUILD)/asan/ngx_chat_module.so

$(BUILD)/asan/ngx_chat_module.so: config $(COMMON_SRCS) $(COMMON_HDRS) $(MODULE_SRCS)
	CHAT_CC_OPT="$(SANITIZE)" CHAT_LD_OPT="$(SANITIZE)" \
	    scripts/build-module "$(NGINX_SRC)" "$(BUILD)/asan/nginx" "$@"

unit: $(UNIT_TESTS)
	@scripts/run-unit $(UNIT_TESTS)

$(BUILD)/unit/%: t/unit/%.c t/unit/test.h $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(COMMON_SRCS) $(LIBS)

fuzz: $(FUZZ_TARGETS)
	@for f in $(FUZZ_TARGETS); do \
	    scripts/fuzz "$$f" "$(FUZZ_SECONDS)" || exit 1; done

$(BUILD)/fuzz/%: t/fuzz/%.c $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(dir $@)
	clang -std=c99 -D_DEFAULT_SOURCE -g -O1 -Icommon \
	    -fsanitize=fuzzer,address,undefined -o $@ $< $(COMMON_SRCS) $(LIBS)

test: deps
	@scripts/test

run: deps module
	@scripts/run

clean:
	rm -rf $(BUILD)
