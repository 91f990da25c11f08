# ngx_chat: build the nginx module, the tests and the tools.
#
#   make            the module, build/ngx_chat_module.so (for Debian's nginx),
#                   and the programs: build/chat-worker, build/chat-devbroker,
#                   build/chat-bench
#   make run        the whole system in the foreground (Ctrl-C stops it)
#   make test       every test: unit, integration, integration under ASan
#   make asan       the module built with ASan+UBSan, build/asan/
#   make fuzz       each fuzz target for FUZZ_SECONDS (default 60)
#   make bench-group   sends in a 256-member group through chat_worker_apply
#   make bench      the benchmark suite (scripts/bench; BENCH_SCALE=small|full):
#                   a report and plots under bench/results/<UTC timestamp>/
#   make build/nchan-bench   the load generator of the Nchan peer
#                   (bench/peers/nchan.sh builds it)
#   make build/xmpp-bench  the XMPP load generator of the ejabberd peer
#                   (bench/peers/ejabberd.sh)
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
# the store (its interface, store/, and its backends) and the push hook
# (push/) are their own components, linked into the worker
STORE_SRCS   := $(wildcard store/*.c store/*/*.c)
STORE_HDRS   := $(wildcard store/*.h store/*/*.h)
PUSH_SRCS    := $(wildcard push/*.c)
PUSH_HDRS    := $(wildcard push/*.h)
WORKER_SRCS  := $(wildcard workers/*.c) $(STORE_SRCS) $(PUSH_SRCS)
WORKER_HDRS  := $(wildcard workers/*.h) $(STORE_HDRS) $(PUSH_HDRS)
WORKER_INC   := -Iworkers -Istore -Ipush
# the tests also open the SQLite backend directly
TEST_INC     := $(WORKER_INC) -Istore/sqlite
# everything of the worker but its main(), for the unit tests
WORKER_LIB   := $(filter-out workers/chat_worker_main.c,$(WORKER_SRCS))
UNIT_TESTS   := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/test_*.c))
FUZZ_TARGETS := $(patsubst t/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard t/fuzz/fuzz_*.c))

SANITIZE     := -fsanitize=address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=undefined
UNIT_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g \
                $(SANITIZE) -Icommon
LIBS         := -ljansson
PROG_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g \
                -Icommon
WORKER_LIBS  := -lrdkafka -lhiredis -lsqlite3 -ljansson -lcurl -lm

# what the load generators share: the WebSocket transport (on the
# project's frame codec), the flags, the report, the histogram and the
# handshake values
BENCH_COMMON := common/chat_ws_frame.c common/chat_utf8.c
BENCH_SHARED := bench/ws.c bench/options.c bench/report.c bench/histogram.c \
                bench/bench_crypto.c $(BENCH_COMMON)
BENCH_SHARED_HDRS := $(BENCH_SHARED:.c=.h)

# the XMPP client of bench/peers/: its own main and stream, the rest shared
XMPP_BENCH_SRCS := $(wildcard bench/peers/xmpp_*.c) $(BENCH_SHARED)

.PHONY: all module programs asan unit fuzz test run deps clean bench-group \
        bench

all: module programs

programs: $(BUILD)/chat-worker $(BUILD)/chat-devbroker $(BUILD)/chat-bench

deps:
	@scripts/deps

module: $(BUILD)/ngx_chat_module.so

$(BUILD)/ngx_chat_module.so: config $(COMMON_SRCS) $(COMMON_HDRS) $(MODULE_SRCS)
	scripts/build-module "$(NGINX_SRC)" "$(BUILD)/nginx" "$@"

$(BUILD)/chat-worker: $(WORKER_SRCS) $(WORKER_HDRS) $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(WORKER_INC) -o $@ $(WORKER_SRCS) $(COMMON_SRCS) \
	    $(WORKER_LIBS)

$(BUILD)/chat-devbroker: devbroker/chat_devbroker.c
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -o $@ $< -lrdkafka

$(BUILD)/chat-bench: $(wildcard bench/*.c bench/*.h) $(BENCH_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -o $@ $(wildcard bench/*.c) $(BENCH_COMMON) -lcrypto -lm

# The load generator for Nchan, the relay-path peer (bench/peers/nchan.sh).
# Its files stay under bench/peers/, which bench/*.c above does not reach.
NCHAN_BENCH_SRCS := $(wildcard bench/peers/nchan_*.c) $(BENCH_SHARED)

$(BUILD)/nchan-bench: $(NCHAN_BENCH_SRCS) bench/peers/nb.h \
                      $(BENCH_SHARED_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -o $@ $(NCHAN_BENCH_SRCS) -lcrypto -lm

# The XMPP load generator of the ejabberd peer (bench/peers/ejabberd.sh).
$(BUILD)/xmpp-bench: $(XMPP_BENCH_SRCS) bench/peers/xmpp_bench.h \
                     $(BENCH_SHARED_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -Ibench -o $@ $(XMPP_BENCH_SRCS) -lcrypto -lm

asan: $(BUILD)/asan/ngx_chat_module.so $(BUILD)/asan/chat-worker

$(BUILD)/asan/chat-worker: $(WORKER_SRCS) $(WORKER_HDRS) $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(WORKER_INC) -O1 $(SANITIZE) -o $@ $(WORKER_SRCS) \
	    $(COMMON_SRCS) $(WORKER_LIBS)

$(BUILD)/asan/ngx_chat_module.so: config $(COMMON_SRCS) $(COMMON_HDRS) $(MODULE_SRCS)
	CHAT_CC_OPT="$(SANITIZE)" CHAT_LD_OPT="$(SANITIZE)" \
	    scripts/build-module "$(NGINX_SRC)" "$(BUILD)/asan/nginx" "$@"

unit: $(UNIT_TESTS)
	@scripts/run-unit $(UNIT_TESTS)

$(BUILD)/unit/%: t/unit/%.c $(wildcard t/unit/*.h) $(COMMON_SRCS) $(COMMON_HDRS) \
                 $(WORKER_LIB) $(WORKER_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $(TEST_INC) -o $@ $< $(COMMON_SRCS) $(WORKER_LIB) \
	    $(WORKER_LIBS)

# not part of test: it needs scripts/bench-deps and takes minutes
bench: module programs
	@scripts/bench

bench-group: $(BUILD)/bench_group_fanout
	$(BUILD)/bench_group_fanout

$(BUILD)/bench_group_fanout: t/unit/bench_group_fanout.c $(COMMON_SRCS) \
                             $(COMMON_HDRS) $(WORKER_LIB) $(WORKER_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(TEST_INC) -o $@ $< $(COMMON_SRCS) $(WORKER_LIB) \
	    $(WORKER_LIBS)

fuzz: $(FUZZ_TARGETS)
	@for f in $(FUZZ_TARGETS); do \
	    scripts/fuzz "$$f" "$(FUZZ_SECONDS)" || exit 1; done

$(BUILD)/fuzz/%: t/fuzz/%.c $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(dir $@)
	clang -std=c99 -D_DEFAULT_SOURCE -g -O1 -Icommon \
	    -fsanitize=fuzzer,address,undefined -o $@ $< $(COMMON_SRCS) $(LIBS)

# the record decoder and the apply path, against an in-memory store: it
# links the worker (but its main) and its libraries
$(BUILD)/fuzz/fuzz_record: t/fuzz/fuzz_record.c $(COMMON_SRCS) $(COMMON_HDRS) \
                           $(WORKER_LIB) $(WORKER_HDRS)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Icommon $(TEST_INC) \
	    -fsanitize=fuzzer,address,undefined -o $@ $< $(COMMON_SRCS) \
	    $(WORKER_LIB) $(WORKER_LIBS)

test: deps
	@scripts/test

run: deps module programs
	@scripts/run

clean:
	rm -rf $(BUILD)
