# vmplacement: build, lab, toolchain and tests. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Every target runs on the project's Node (the current LTS, scripts/install-node.sh), whatever Node
# the machine has: npm, the build, the tests and the Pulumi CLI's nodejs language host.
NODE_BIN := $(shell scripts/install-node.sh)
ifeq ($(NODE_BIN),)
$(error scripts/install-node.sh could not install the project's Node; its message is above)
endif
export PATH := $(NODE_BIN):$(PATH)

PULUMI_ENV := $(CURDIR)/scripts/pulumi-env.sh
MOCHA := npx --no-install mocha

.PHONY: pulumi dist packages release install bench-engine bench-placement bench-forecast bench-provider bench-libvirt gen-libvirt gen-sdk check-sdk help deps toolchain build lint lab-up lab-down lab-status test test-unit test-integration test-faults test-e2e demo clean

help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

deps: ## install Debian packages the lab and tests need (root)
	scripts/install-system-deps.sh

toolchain: ## build the pinned Pulumi CLI and language hosts into the cache (once per version)
	scripts/install-pulumi.sh

pulumi: ## a Pulumi CLI: the one on PATH when recent enough (scripts/find-pulumi.sh), else the pinned build (needs Go)
	@scripts/find-pulumi.sh >/dev/null 2>&1 || scripts/install-pulumi.sh >/dev/null

node_modules: package.json package-lock.json
	npm ci
	@touch node_modules

build: node_modules ## compile TypeScript
	npx --no-install tsc -p tsconfig.json

lint: node_modules ## eslint, prettier, the layering (no import cycle; nothing above the engine reaches past its index), no function over 80 lines
	npx --no-install eslint .
	npx --no-install prettier --check .
	scripts/check-structure.sh
	node scripts/longest-functions.mjs 80 >/dev/null

lab-up: ## start the multi-host libvirt lab (root; harmless when already up)
	test/lab/lab.sh up

lab-down: ## remove every namespace, process, bridge and file of the lab
	test/lab/lab.sh down

lab-status:
	test/lab/lab.sh status

test: build release ## the whole suite: unit, integration (real lab), faults (real lab) and end-to-end (real Pulumi CLI)
	source $(PULUMI_ENV) && $(MOCHA) 'build/test/unit/**/*.test.js' 'build/test/integration/**/*.test.js' 'build/test/faults/**/*.test.js' 'build/test/e2e/**/*.test.js'

test-unit: build
	$(MOCHA) 'build/test/unit/**/*.test.js'

test-integration: build
	$(MOCHA) 'build/test/integration/**/*.test.js'

test-faults: build ## faults injected into real moves on the lab, each followed by the invariants (lab must be up)
	source $(PULUMI_ENV) && $(MOCHA) 'build/test/faults/**/*.test.js'

test-e2e: build
	source $(PULUMI_ENV) && $(MOCHA) 'build/test/e2e/**/*.test.js'

demo: deps pulumi node_modules build dist lab-up ## set up everything, place three lab VMs with Pulumi, move one live
	scripts/packages.sh nodejs >/dev/null
	# The demo's own release files (nodejs only, no Go needed), apart from `make release`'s.
	VMP_RELEASE_DIR=$(CURDIR)/build/demo-release scripts/release.sh nodejs >/dev/null
	VMP_RELEASE_DIR=$(CURDIR)/build/demo-release scripts/demo.sh

clean:
	rm -rf build dist

gen-libvirt: ## regenerate the libvirt protocol tables from the installed libvirt's source
	node scripts/gen-libvirt.mjs "$$(scripts/fetch-libvirt-source.sh)"

bench-libvirt: build ## calls/s of our libvirt client vs virsh (lab must be up)
	node build/bench/libvirt-client.js

bench-engine: build ## the engine vs plain virsh migrate, same flags, local, shared NBD and Ceph RBD (lab must be up)
	node build/bench/engine.js

bench-forecast: build ## forecast vs outcome for idle/moderate/fast guests, capped or not, shared/copied, offline; verdicts checked by a pre-copy probe (lab must be up; ARGS="runs")
	node build/bench/forecast.js $(ARGS)

bench-placement: build ## the fleet solver: 2,000 VMs over 100 hosts and 10,000 over 500, with rules, vs a greedy baseline (pure, no lab; ARGS="runs scales", e.g. "5 1,5")
	node build/bench/placement.js $(ARGS)

bench-provider: build ## pulumi up/preview vs plain virsh: one move, 200-placement preview, rebalance, a non-converging guest at a cap, stream options, a guest on Ceph RBD; part g: 2,000 placements over ssh vs 2,000 trivial resources (lab must be up; ARGS="runs parts placements scale")
	source $(PULUMI_ENV) && node build/bench/provider.js $(ARGS)

gen-sdk: ## regenerate the nodejs, python and go SDKs in sdk/ from schema.json
	scripts/gen-sdk.sh

check-sdk: ## fail when sdk/ differs from what schema.json generates
	scripts/check-sdk.sh

dist: build ## the plugin as a single executable per platform (linux-amd64, linux-arm64), each in a tarball for `pulumi plugin install resource vmplacement <version> --file ...`
	scripts/dist.sh

packages: build ## the SDKs as packages in dist/packages: npm tarball, Python wheel and sdist, Go module proxy tree
	scripts/packages.sh

release: dist packages ## every artifact of one version in dist/release/v<version> with SHA256SUMS: plugin tarballs, npm tarball, wheel and sdist, Go module, schema
	scripts/release.sh

install: dist ## install the plugin for this machine where the Pulumi CLI finds it (PULUMI_HOME)
	source $(PULUMI_ENV) && pulumi plugin install resource vmplacement "$$(node -p "require('./package.json').version")" --file "dist/pulumi-resource-vmplacement-v$$(node -p "require('./package.json').version")-linux-$$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/').tar.gz"
