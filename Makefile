# ngx_chat: build the nginx module, the tests and the tools.
#
#   make            the module, build/ngx_chat_module.so (for Debian's nginx),
#                   and the programs: build/chat-worker, build/chat-api
#                   (and build/chat-api-seed, which its test seeds a store
#                   with), build/chat-devbroker, build/chat-bench
#   make run        the whole system in the foreground (Ctrl-C stops it)
#   make test       every test: unit, integration, integration under ASan
#   make unit       the C unit tests, those of the store on SQLite and again
#                   on a throwaway PostgreSQL cluster (scripts/pg)
#   make asan       the module, chat-worker and chat-api built with ASan+UBSan,
#                   build/asan/
#   make debug      the module built against nginx configured --with-debug,
#                   build/debug/ (its ngx_log_debug tracing compiled in)
#   make fuzz       each fuzz target for FUZZ_SECONDS (default 60)
#   make fuzz-replay   each fuzz target's corpus, once, through its gcc
#                   ASan+UBSan build (t/fuzz/replay.c its main)
#   make lint       clang-tidy (.clang-tidy) and cppcheck over our C, clean
#                   or failing (scripts/lint); needs the module configured
#   make bench-group   sends in a 256-member group through chat_worker_apply
#   make bench-store   the conversation list and history pages of a user
#                   with 1,000 conversations (p50 and p99), then send
#                   records/s through the worker's apply path: 1 worker on
#                   SQLite, 1 and 2 on PostgreSQL (scripts/bench-store-write)
#   make bench      the benchmark suite (scripts/bench; BENCH_SCALE=small|full):
#                   a report and plots under bench/results/<UTC timestamp>/
#   make build/nchan-bench   the load generator of the Nchan peer
#                   (bench/peers/nchan.sh builds it)
#   make build/xmpp-bench  the XMPP load generator of the ejabberd peer
#                   (bench/peers/ejabberd.sh)
#
# NGINX_SRC names the nginx source tree to build against (default: the one
# Debian's nginx-dev installs). Everything built goes under build/.
#
# Every program is linked from objects, one per source file, under
# build/obj/<flavour>/<source path>.o: plain (-O2), asan (ASan+UBSan, gcc:
# the ASan programs, the unit tests and the fuzz replays) and fuzz (clang,
# libFuzzer). Each object's header dependencies come from -MMD -MP and
# are read back below, so an edit rebuilds only what includes it.

NGINX_SRC    ?= /usr/share/nginx/src
BUILD        ?= build
CC           ?= cc
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
OBJ          := $(BUILD)/obj

# ---------------------------------------------------------------- sources

COMMON_SRCS  := $(wildcard common/*.c)
COMMON_HDRS  := $(wildcard common/*.h)
MODULE_DEPS  := $(wildcard ngx_chat_module/*.c ngx_chat_module/*.h)
# the chat-worker: its pipeline, the store and its backends, the push hook;
# a directory may be empty or absent
WORKER_DIRS  := workers store store/sqlite store/postgres push
WORKER_SRCS  := $(wildcard $(addsuffix /*.c,$(WORKER_DIRS)))
WORKER_MAIN  := workers/chat_worker_main.c
# everything of the worker but its main(), for the tests that link it
WORKER_LIB   := $(filter-out $(WORKER_MAIN),$(WORKER_SRCS))
UNIT_TESTS   := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/test_*.c))
# the unit tests that use the store, which `make unit` runs a second time
# on PostgreSQL (t/unit/test_backend.h); not test_store_sync, which
# counts SQLite's own syncs, nor test_worker_conf, which opens none
STORE_UNIT   := $(filter-out %/test_store_sync %/test_worker_conf,\
                $(filter $(BUILD)/unit/test_store% $(BUILD)/unit/test_worker_%,\
                $(UNIT_TESTS)))
FUZZ_NAMES   := $(patsubst t/fuzz/%.c,%,$(wildcard t/fuzz/fuzz_*.c))
FUZZ_TARGETS := $(addprefix $(BUILD)/fuzz/,$(FUZZ_NAMES))
FUZZ_REPLAYS := $(addprefix $(BUILD)/fuzz-replay/,$(FUZZ_NAMES))
# the targets that exercise the worker link it (but its main)
FUZZ_WORKER  := fuzz_record

# the store and its backends, for the programs that link it without the
# worker
STORE_SRCS   := $(wildcard store/*.c store/sqlite/*.c store/postgres/*.c)
# chat-api: its endpoints and the store it reads (not the worker's
# pipeline); API_PURE, its parts that need neither a store nor a server,
# for its unit tests; API_SEED, the test helper that seeds a store
# through the store API
API_SRCS     := $(filter-out api/chat_api_seed.c,$(wildcard api/*.c)) \
                $(STORE_SRCS)
API_PURE     := api/chat_api_conf.c api/chat_api_query.c \
                api/chat_api_route.c api/chat_api_reply.c
API_LIBS     := -lmicrohttpd -lhiredis -lsqlite3 -lpq -ljansson -lcrypto -lpthread
API_SEED     := api/chat_api_seed.c $(STORE_SRCS)
API_UNIT     := $(filter $(BUILD)/unit/test_api%,$(UNIT_TESTS))

# what the load generators share: the WebSocket transport (on the
# project's frame codec), the flags, the report, the histogram and the
# handshake values
BENCH_COMMON := common/chat_ws_frame.c common/chat_utf8.c
BENCH_SHARED := bench/ws.c bench/options.c bench/report.c bench/histogram.c \
                bench/bench_crypto.c $(BENCH_COMMON)
BENCH_SRCS   := $(wildcard bench/*.c) $(BENCH_COMMON)
# The load generator for Nchan, the relay-path peer (bench/peers/nchan.sh).
# Its files stay under bench/peers/, which bench/*.c above does not reach.
NCHAN_BENCH_SRCS := $(wildcard bench/peers/nchan_*.c) $(BENCH_SHARED)
# the XMPP client of bench/peers/: its own main and stream, the rest shared
XMPP_BENCH_SRCS := $(wildcard bench/peers/xmpp_*.c) $(BENCH_SHARED)

# ---------------------------------------------------------------- flags

SANITIZE     := -fsanitize=address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=all
# the same list as scripts/build-module passes to the module build
WARN         := -Wall -Wextra -Werror -Wpointer-arith -Wstrict-prototypes \
                -Wshadow -Wmissing-prototypes -Wformat=2
CPPFLAGS     := -D_GNU_SOURCE -Icommon $(addprefix -I,$(WORKER_DIRS)) -Iapi \
                -I/usr/include/postgresql
DEPFLAGS     := -MMD -MP
CFLAGS_plain := -std=c11 $(WARN) -O2 -g
CFLAGS_asan  := -std=c11 $(WARN) -O1 -g $(SANITIZE)
CFLAGS_fuzz  := -std=c11 $(WARN) -O1 -g -fsanitize=fuzzer-no-link \
                $(SANITIZE)
LIBS         := -ljansson -lcrypto -lhiredis
WORKER_LIBS  := -lrdkafka -lhiredis -lsqlite3 -lpq -ljansson -lcrypto -lcurl -lm

# objects FLAVOUR, SOURCES: the object of each source in that flavour
objs = $(patsubst %.c,$(OBJ)/$(1)/%.o,$(2))

.PHONY: all module programs asan debug unit fuzz fuzz-replay lint test run deps clean \
        bench-group bench-store bench

all: module programs

programs: $(BUILD)/chat-worker $(BUILD)/chat-api $(BUILD)/chat-api-seed \
          $(BUILD)/chat-devbroker $(BUILD)/chat-bench

deps:
	@scripts/deps

# ---------------------------------------------------------------- objects

# the rules of each flavour; an object also depends on this Makefile,
# whose flags it was compiled with
$(OBJ)/plain/%.o: %.c Makefile
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS_plain) $(DEPFLAGS) -c -o $@ $<

$(OBJ)/asan/%.o: %.c Makefile
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS_asan) $(DEPFLAGS) -c -o $@ $<

$(OBJ)/fuzz/%.o: %.c Makefile
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(CFLAGS_fuzz) $(DEPFLAGS) -c -o $@ $<

# the peers' load generators include chat-bench's headers by name
$(OBJ)/plain/bench/peers/%.o: CPPFLAGS += -Ibench

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------- the module

# nginx's own Makefile (objs/Makefile, from configure) builds it: each of
# its objects depends on every header the config script lists
module: $(BUILD)/ngx_chat_module.so

MODULE_INPUTS := config scripts/build-module scripts/lua-header \
                 $(COMMON_SRCS) $(COMMON_HDRS) $(MODULE_DEPS) \
                 $(wildcard ngx_chat_module/lua/*.lua)

$(BUILD)/ngx_chat_module.so: $(MODULE_INPUTS)
	+scripts/build-module "$(NGINX_SRC)" "$(BUILD)/nginx" "$@"

asan: $(BUILD)/asan/ngx_chat_module.so $(BUILD)/asan/chat-worker \
      $(BUILD)/asan/chat-api

$(BUILD)/asan/ngx_chat_module.so: $(MODULE_INPUTS)
	+CHAT_CC_OPT="$(SANITIZE)" CHAT_LD_OPT="$(SANITIZE)" \
	    scripts/build-module "$(NGINX_SRC)" "$(BUILD)/asan/nginx" "$@"

debug: $(BUILD)/debug/ngx_chat_module.so

$(BUILD)/debug/ngx_chat_module.so: $(MODULE_INPUTS)
	+CHAT_NGINX_OPT="--with-debug" \
	    scripts/build-module "$(NGINX_SRC)" "$(BUILD)/debug/nginx" "$@"

# ---------------------------------------------------------------- programs

$(BUILD)/chat-worker: $(call objs,plain,$(WORKER_SRCS) $(COMMON_SRCS))
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(WORKER_LIBS)

$(BUILD)/asan/chat-worker: $(call objs,asan,$(WORKER_SRCS) $(COMMON_SRCS))
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $^ $(WORKER_LIBS)

$(BUILD)/chat-api: $(call objs,plain,$(API_SRCS) $(COMMON_SRCS))
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(API_LIBS)

$(BUILD)/asan/chat-api: $(call objs,asan,$(API_SRCS) $(COMMON_SRCS))
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $^ $(API_LIBS)

# t/integration/test_chat_api.py seeds its store with it
$(BUILD)/chat-api-seed: $(call objs,plain,$(API_SEED) $(COMMON_SRCS))
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(API_LIBS)

$(BUILD)/chat-devbroker: $(call objs,plain,devbroker/chat_devbroker.c)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ -lrdkafka

$(BUILD)/chat-bench: $(call objs,plain,$(BENCH_SRCS))
	@mkdir -p $(@D)
	$(CC) -o $@ $^ -lcrypto -lm

$(BUILD)/nchan-bench: $(call objs,plain,$(NCHAN_BENCH_SRCS))
	@mkdir -p $(@D)
	$(CC) -o $@ $^ -lcrypto -lm

# The XMPP load generator of the ejabberd peer (bench/peers/ejabberd.sh).
$(BUILD)/xmpp-bench: $(call objs,plain,$(XMPP_BENCH_SRCS))
	@mkdir -p $(@D)
	$(CC) -o $@ $^ -lcrypto -lm

# ---------------------------------------------------------------- tests

# every unit test on SQLite, then the store's again on a throwaway
# PostgreSQL cluster (scripts/pg, started and stopped by run-unit)
unit: $(UNIT_TESTS)
	@scripts/run-unit $(UNIT_TESTS) --postgres $(STORE_UNIT)

$(UNIT_TESTS): $(BUILD)/unit/%: $(OBJ)/asan/t/unit/%.o \
               $(call objs,asan,$(COMMON_SRCS) $(WORKER_LIB))
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $^ $(WORKER_LIBS)

# chat-api's unit tests link its objects too
$(API_UNIT): $(call objs,asan,$(API_PURE))
$(API_UNIT): WORKER_LIBS += -lmicrohttpd -lpthread

# not part of test: it needs scripts/bench-deps and takes minutes
bench: module programs
	@scripts/bench

bench-group: $(BUILD)/bench_group_fanout
	$(BUILD)/bench_group_fanout

$(BUILD)/bench_group_fanout: $(call objs,plain,t/unit/bench_group_fanout.c \
                                 t/unit/bench_util.c $(COMMON_SRCS) \
                                 $(WORKER_LIB))
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(WORKER_LIBS)

bench-store: $(BUILD)/bench_store_read $(BUILD)/bench_store_write
	$(BUILD)/bench_store_read
	@scripts/bench-store-write

$(BUILD)/bench_store_write: $(call objs,plain,t/unit/bench_store_write.c \
                                t/unit/bench_util.c $(COMMON_SRCS) \
                                $(WORKER_LIB))
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(WORKER_LIBS)

$(BUILD)/bench_store_read: $(call objs,plain,t/unit/bench_store_read.c \
                               t/unit/bench_util.c $(COMMON_SRCS) \
                               $(WORKER_LIB))
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(WORKER_LIBS)

fuzz: $(FUZZ_TARGETS)
	@for f in $(FUZZ_TARGETS); do \
	    scripts/fuzz "$$f" "$(FUZZ_SECONDS)" || exit 1; done

# each target with what it exercises: the pure layer, and for
# FUZZ_WORKER the worker too (the record decoder and the apply path,
# against an in-memory store)
fuzz_objs = $(call objs,$(1),t/fuzz/$(2).c $(COMMON_SRCS) \
                $(if $(filter $(2),$(FUZZ_WORKER)),$(WORKER_LIB)))
fuzz_libs = $(if $(filter $(1),$(FUZZ_WORKER)),$(WORKER_LIBS),$(LIBS))

.SECONDEXPANSION:
$(FUZZ_TARGETS): $(BUILD)/fuzz/%: $$(call fuzz_objs,fuzz,$$*)
	@mkdir -p $(@D)
	$(FUZZ_CC) -fsanitize=fuzzer $(SANITIZE) -o $@ $^ $(call fuzz_libs,$*)

# the same targets under gcc, with a main that replays their corpora: a
# finding stops the run (-fno-sanitize-recover=all)
$(FUZZ_REPLAYS): $(BUILD)/fuzz-replay/%: $$(call fuzz_objs,asan,$$*) \
                 $(OBJ)/asan/t/fuzz/replay.o
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $^ $(call fuzz_libs,$*)

fuzz-replay: $(FUZZ_REPLAYS)
	@n=0; for f in $(FUZZ_NAMES); do \
	    $(BUILD)/fuzz-replay/$$f t/fuzz/corpus/$$f || { \
	        echo "fuzz-replay: $$n passed, 1 failed"; exit 1; }; \
	    n=$$((n + 1)); done; echo "fuzz-replay: $$n passed, 0 failed"

# the module first: its configured tree has nginx's ngx_auto_config.h
lint: module
	@scripts/lint

test: deps
	@scripts/test

run: deps module programs
	@scripts/run

clean:
	rm -rf $(BUILD)
