# appd: a FastCGI App backend in C behind Nginx. `make run` and `make test` do all the set-up.
.SUFFIXES:

CC	 = cc
PKGS	 = libpq libmariadb json-c libsodium libcurl MagickWand
# ImageMagick's headers are not -Wstrict-prototypes clean: include them as
# system headers so the warnings stay on for our code.
CFLAGS_PKG = $$(pkg-config --cflags $(PKGS) | sed 's/-I/-isystem /g')
WARN	 = -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wcast-qual \
	   -Wwrite-strings -Wstrict-prototypes -Wmissing-prototypes -Wvla \
	   -Wimplicit-fallthrough -Werror
HARDEN	 = -fno-common -fstack-protector-strong -D_FORTIFY_SOURCE=2
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) -Ilib -Ifcgi \
	   $(CFLAGS_PKG)
LIBS	 = $$(pkg-config --libs $(PKGS)) -lfcgi
OPT	 = -O2 -g
SAN	 = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	   -fno-omit-frame-pointer

LIB_SRC	 = lib/app.c lib/blob.c lib/buf.c lib/cfg.c lib/code.c lib/fcgihead.c lib/gallery.c \
	   lib/img.c lib/log.c lib/mem.c lib/mono.c lib/mpart.c lib/req.c lib/resp.c \
	   lib/sess.c lib/sms.c lib/sock.c lib/store.c lib/store_my.c lib/store_pg.c \
	   lib/tmpl.c lib/user.c
HANDLERS = fcgi/h_health.c fcgi/h_images.c fcgi/h_session.c \
	   fcgi/h_test.c fcgi/h_users.c fcgi/metrics.c fcgi/pages.c
FCGI_SRC = fcgi/main.c fcgi/board.c fcgi/manager.c fcgi/worker.c \
	   fcgi/routes.c $(HANDLERS)
HDRS	 = lib/*.h fcgi/*.h
UNITS	 = app blob buf cfg code fcgihead log mpart req resp route sess sock \
	   tmpl user

BIN	 = build/appd
# Test builds add routes that only tests may reach (APPD_TESTING).
TEST_BIN = build/test/appd
ASAN_BIN = build/asan/appd

all: $(BIN)

$(BIN): $(LIB_SRC) $(FCGI_SRC) $(HDRS)
	@mkdir -p build
	@echo "CC $@"
	@$(CC) $(CFLAGS_BASE) $(OPT) -o $@ $(LIB_SRC) $(FCGI_SRC) $(LIBS)

$(TEST_BIN): $(LIB_SRC) $(FCGI_SRC) $(HDRS)
	@mkdir -p build/test
	@echo "CC $@"
	@$(CC) $(CFLAGS_BASE) $(OPT) -DAPPD_TESTING -o $@ $(LIB_SRC) \
	    $(FCGI_SRC) $(LIBS)

$(ASAN_BIN): $(LIB_SRC) $(FCGI_SRC) $(HDRS)
	@mkdir -p build/asan
	@echo "CC $@"
	@$(CC) $(CFLAGS_BASE) -U_FORTIFY_SOURCE $(SAN) -DAPPD_TESTING -o $@ \
	    $(LIB_SRC) $(FCGI_SRC) $(LIBS)

# One cmocka program per module; route and sock tests link the fcgi pieces
# they exercise (everything but main.c). UNIT_WRAP: linker --wrap options of
# one test program, for the failures it injects; appd is never linked so.
UNIT_SRC = $(LIB_SRC) fcgi/board.c fcgi/routes.c fcgi/worker.c \
	   fcgi/manager.c $(HANDLERS) test/unit/stub_main.c test/unit/scratch.c
build/unit/test_%: test/unit/test_%.c $(UNIT_SRC) $(HDRS) test/unit/scratch.h
	@mkdir -p build/unit
	@echo "CC $@"
	@$(CC) $(CFLAGS_BASE) $(OPT) -o $@ $< $(UNIT_SRC) $(LIBS) -lcmocka \
	    $(UNIT_WRAP)
build/unit-asan/test_%: test/unit/test_%.c $(UNIT_SRC) $(HDRS) test/unit/scratch.h
	@mkdir -p build/unit-asan
	@echo "CC $@"
	@$(CC) $(CFLAGS_BASE) -U_FORTIFY_SOURCE $(SAN) -o $@ $< $(UNIT_SRC) \
	    $(LIBS) -lcmocka $(UNIT_WRAP)
build/unit/test_blob build/unit-asan/test_blob: UNIT_WRAP = \
	    -Wl,--wrap=link,--wrap=mkdir

deps:
	@scripts/deps

unit: deps $(UNITS:%=build/unit/test_%) $(UNITS:%=build/unit-asan/test_%)
	@set -e; for t in $(UNITS); do \
		echo "== unit: $$t"; build/unit/test_$$t; \
		echo "== unit (asan+ubsan): $$t"; build/unit-asan/test_$$t; \
	done

# End to end through Nginx + the database + appd: the test build against
# PostgreSQL and against MariaDB, then the sanitizer build (any report fails
# the run) against each database in E2E_ASAN_DBS: PostgreSQL only by default,
# to keep `make test` near 10 minutes on 2 cores; add mysql for MariaDB too.
E2E_ASAN_DBS ?= postgresql
e2e: deps $(TEST_BIN) $(ASAN_BIN)
	APPD_DB=postgresql scripts/e2e $(TEST_BIN)
	APPD_DB=mysql scripts/e2e $(TEST_BIN)
	@set -e; for db in $(E2E_ASAN_DBS); do \
		rm -rf build/asan-logs && mkdir -p build/asan-logs; \
		echo "APPD_DB=$$db scripts/e2e $(ASAN_BIN)"; \
		APPD_DB=$$db ASAN_LOG_DIR=$(CURDIR)/build/asan-logs \
		ASAN_OPTIONS=log_path=$(CURDIR)/build/asan-logs/asan:detect_leaks=1 \
		UBSAN_OPTIONS=log_path=$(CURDIR)/build/asan-logs/ubsan:print_stacktrace=1 \
		scripts/e2e $(ASAN_BIN); \
	done

check-docs: $(BIN)
	@scripts/check-docs $(BIN)

# The API reference: pinned npm tools, lint docs/openapi.yaml, check the
# Postman collection against it, build public/docs/ (Nginx serves /docs/).
docs:
	scripts/docs

FUZZ_SECONDS ?= 60

# libFuzzer harnesses (test/fuzz/fuzz_*.c) under ASan+UBSan, FUZZ_SECONDS each.
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz

# cppcheck + clang-tidy (.clang-tidy) + whitespace must be clean; clang-format
# only reports (it cannot reproduce the house style exactly).
lint: deps
	scripts/lint

test: deps
	$(MAKE) $(BIN) $(TEST_BIN) $(ASAN_BIN)
	$(MAKE) unit
	FUZZ_SECONDS=5 scripts/fuzz
	$(MAKE) lint
	$(MAKE) check-docs
	$(MAKE) docs
	$(MAKE) e2e
	$(MAKE) test-cluster-smoke

# The simulated multi-host deployment (scripts/cluster), on its own directory, port and
# namespace names (a cluster of `make run`'s kind may be up beside it): up, the scenarios
# through the front, an app host killed, down.
CLUSTER_TEST_DIR ?= $(CURDIR)/var/test-cluster
CLUSTER_TEST_PORT ?= 17443
CLUSTER_TEST_ENV = CLUSTER_DIR=$(CLUSTER_TEST_DIR) CLUSTER_PORT=$(CLUSTER_TEST_PORT) \
	CLUSTER_NS_PREFIX=t-
test-cluster-smoke: deps $(BIN)
	rm -rf $(CLUSTER_TEST_DIR)
	$(CLUSTER_TEST_ENV) /usr/bin/python3 -m pytest -q -p no:cacheprovider \
	    test/cluster/test_cluster_smoke.py

# The fault suite (issue 12; not part of `make test`): each host kind killed under a
# bounded load, on a directory, port and namespace prefix of its own so that it can run
# beside the smoke test and the developer's cluster. Its figures (failed requests, failover
# and heal seconds, writes acknowledged and lost) go to $(CLUSTER_FAULTS_DIR)/figures.json.
CLUSTER_FAULTS_DIR ?= $(CURDIR)/var/test-cluster-faults
CLUSTER_FAULTS_PORT ?= 27443
CLUSTER_FAULTS_ENV = CLUSTER_DIR=$(CLUSTER_FAULTS_DIR) CLUSTER_PORT=$(CLUSTER_FAULTS_PORT) \
	CLUSTER_NS_PREFIX=f-
test-cluster: deps $(BIN)
	rm -rf $(CLUSTER_FAULTS_DIR)
	$(CLUSTER_FAULTS_ENV) /usr/bin/python3 -m pytest -q -s -p no:cacheprovider \
	    test/cluster/test_cluster_faults.py

run: deps $(BIN)
	-scripts/docs install && scripts/docs build
	scripts/stack run

# Load through Nginx on the bench's own stack; rewrites BENCHMARKS.md.
.PHONY: bench
bench: deps $(BIN)
	scripts/bench

clean:
	rm -rf build public/docs

.PHONY: all deps unit e2e test test-cluster-smoke test-cluster run clean check-docs fuzz lint docs
