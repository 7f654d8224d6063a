# make demo: install what is missing, build, run netmaster on its embedded store and drive it with netctl.
# make test: install what is missing, build, run every test.
SHELL := /bin/bash
APT_PACKAGES := etcd-server etcd-client iproute2 nftables conntrack iputils-ping iperf3 ethtool util-linux gobgpd frr docker.io podman containerd runc busybox-static containernetworking-plugins chromium slapd ldap-utils dnsmasq-base openvswitch-switch tcpdump python3-os-ken
PREFIX ?= /usr/local

.PHONY: all deps apt-deps npm-deps build test demo install clean bench

all: build

# Tests start their own slapd in a namespace, and their own Open vSwitch daemons: the system slapd and OVS that
# installing the packages may start (Debian's postinsts do, unless policy-rc.d forbids it) are stopped and
# disabled, only when we installed them.
apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  case " $$missing " in *" slapd "*) \
	    if [ -d /run/systemd/system ]; then systemctl disable --now slapd; \
	    else /etc/init.d/slapd stop; update-rc.d slapd disable; fi >/dev/null 2>&1 || true;; \
	  esac; \
	  case " $$missing " in *" openvswitch-switch "*) \
	    if [ -d /run/systemd/system ]; then systemctl disable --now openvswitch-switch; \
	    elif ls /var/run/openvswitch/*.pid >/dev/null 2>&1; then /usr/share/openvswitch/scripts/ovs-ctl stop; fi >/dev/null 2>&1 || true;; \
	  esac; \
	fi

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

npm-deps: node_modules/.package-lock.json

deps: apt-deps npm-deps

build: npm-deps
	npx tsc -p tsconfig.json
	@# The web UI (ui/): type-checked for the browser, bundled with what it imports into dist/webui, which netmaster serves at /ui/.
	npx tsc -p ui/tsconfig.json
	@mkdir -p dist/webui
	npx esbuild ui/src/main.tsx --bundle --minify --format=esm --target=es2022 --jsx=automatic --jsx-import-source=preact --outfile=dist/webui/app.js --log-level=warning
	@cp ui/index.html ui/app.css dist/webui/
	@mkdir -p bin
	@for b in netmaster netctl netplugin netplugin-cluster; do \
	  printf '#!/bin/sh\nexec node "$$(dirname "$$(readlink -f "$$0")")/../dist/src/bin/%s.js" "$$@"\n' $$b > bin/$$b; \
	done
	@# The CNI executable runs once per container, so its start is what counts: bun compiles it (TypeScript, with
	@# what it imports) into one executable that starts in ~4 ms where Node takes ~25 (bench/cni-start.ts measures the
	@# options). bun comes from npm as a build tool; the executable needs nothing of it at run time.
	npx bun build --compile --minify --bytecode src/bin/netplugin-cni.ts --outfile dist/cni/netplugin-cni >/dev/null
	@ln -sfn ../dist/cni/netplugin-cni bin/netplugin-cni
	@# The agent's process starter (src/lib/spawner.ts): bun starts a command without forking the agent's 120 MB.
	npx bun build --compile --minify --bytecode src/bin/netplugin-spawner.ts --outfile dist/spawner/netplugin-spawner >/dev/null
	@chmod +x bin/*

# The whole end-to-end suite runs a second time with every simulated cluster on the OVS datapath, but for the files
# that choose their datapath themselves (ovs, ovs-docker, sdn-controller), the ones no datapath takes part in (ldap-login,
# the web UI).
OVS_E2E_OWN := ovs ovs-docker sdn-controller ldap-login ui
OVS_E2E := $(filter-out $(OVS_E2E_OWN),$(patsubst test/e2e/%.test.ts,%,$(wildcard test/e2e/*.test.ts)))

# Each run also writes its TAP to a file; on a failure the failing tests are printed again last, where the tail of a
# long CI log shows them.
run_tests = node --test --test-concurrency=2 --test-reporter=tap --test-reporter-destination=stdout \
	--test-reporter=tap --test-reporter-destination=$(1) $(2) || \
	{ echo "== failed in $(1):"; grep -E '^ *(not ok|  +(location|error):)' $(1); exit 1; }

test: deps build
	$(call run_tests,dist/test-all.tap,$$(find dist -name '*.test.js' | sort))
	NETPLUGIN_CLUSTER_DATAPATH=ovs $(call run_tests,dist/test-ovs.tap,$(patsubst %,dist/test/e2e/%.test.js,$(OVS_E2E)))

bench: deps build
	node dist/bench/run.js

demo: deps build
	./scripts/demo.sh

install: build
	ln -sf $(CURDIR)/bin/netmaster $(PREFIX)/bin/netmaster
	ln -sf $(CURDIR)/bin/netctl $(PREFIX)/bin/netctl
	ln -sf $(CURDIR)/bin/netplugin $(PREFIX)/bin/netplugin
	mkdir -p /opt/cni/bin
	ln -sf $(CURDIR)/bin/netplugin-cni /opt/cni/bin/netplugin

clean:
	rm -rf dist bin
