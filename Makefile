# esco-gateway developer and CI entry points. The same commands run locally and in CI.
# 开发与 CI 入口：本机和 CI 运行同样的命令。
#
#   make venv    建 .venv：锁定版本的依赖和本项目（可编辑安装）
#                .venv with the locked dependencies and the project (editable)
#   make test    venv + 缺少时安装真实服务 (scripts/ensure-services) + pytest
#                venv + real services installed if missing (scripts/ensure-services) + pytest
#   make demo    演示站点的仿真设备，带实时界面（数据保存在 demo-data/）
#                the demo site's simulators with a live view (data kept in demo-data/)
#   make demo-report  对上次 make demo 保存的数据运行 escogw report（HTML 在 demo-data/report/）
#                escogw report on what the last make demo kept (HTML in demo-data/report/)
#   make bench   基准测试 (bench/bench_*.py)，每个指标一行 "name: value"
#                benchmarks (bench/bench_*.py), one "name: value" line per figure
#   make mutation  关键模块的变异测试 (mutmut；4-20 分钟；docs/testing.md)
#                mutation testing of the critical modules (mutmut; 4-20 min; docs/testing.md)
#   make wheels  现场主机离线安装用的 wheel 集：PLATFORM=aarch64|x86_64（默认本机），
#                输出到 dist/wheels（docs/install.md）
#                the wheel set for an offline site box: PLATFORM=aarch64|x86_64 (default:
#                this machine's) into dist/wheels (docs/install.md)
#   make lint    ruff check + mypy --strict
#   make lock    按 pyproject.toml 重新生成 requirements.lock（含 dev 依赖）
#                regenerate requirements.lock from pyproject.toml (with the dev extra)
#   make clean   删除 .venv 和缓存 / remove .venv and caches
#
# 额外的 pytest 参数 / extra pytest arguments: make test PYTEST_ARGS="-k mqtt -x"

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# uv itself comes from PyPI into the venv; pinned so the lock is reproducible.
UV_SPEC ?= uv==0.13.9
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv test demo demo-report bench mutation wheels lint lock clean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

# The interpreter and uv. Debian's own python3 needs python3-venv for `-m venv`
# (ensurepip); as root it is installed here, otherwise the command is printed.
$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "make: $(PYTHON) is older than 3.11; run make PYTHON=python3.11 ..." >&2; exit 1; }
	@if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
		if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends python3-venv >/dev/null; \
		else \
			echo "make: $(PYTHON) cannot create a venv: sudo apt-get install python3-venv" >&2; exit 1; \
		fi; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check "$(UV_SPEC)"

# Everything locked, then the project itself editable without deps. Re-runs only
# when the lock or pyproject.toml changed (or the venv was removed).
$(STAMP): requirements.lock pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(VPY) -r requirements.lock
	$(UV) pip install --quiet --python $(VPY) --no-deps -e .
	@touch $@

venv: $(STAMP)

test: $(STAMP)
	scripts/ensure-services
	$(VPY) -m pytest -q -rs --durations=15 $(PYTEST_ARGS)

demo: $(STAMP)
	$(VPY) -m devkit.demo --site config/demo-site.yaml $(DEMO_ARGS)

demo-report: $(STAMP)
	$(VPY) -m devkit.demo --report $(DEMO_ARGS)

bench: $(STAMP)
	$(VPY) -m bench

# The modules and tests are listed in pyproject.toml ([tool.mutmut]); mutants/ caches the
# results, so a second run only re-checks what changed (remove mutants/ for a fresh run).
MUTATION_CHILDREN ?= 2
mutation: $(STAMP)
	$(VENV)/bin/mutmut run --max-children $(MUTATION_CHILDREN) > mutants.log 2>&1 \
		|| { tail -40 mutants.log; exit 1; }
	$(VPY) -m devkit.mutation

# All three run; the target fails if any did. mypy's own config (pyproject)
# checks the packages; the second run the typed test and bench infrastructure.
lint: $(STAMP)
	@rc=0; \
	echo "ruff check ."; $(VENV)/bin/ruff check . || rc=1; \
	echo "mypy"; $(VENV)/bin/mypy || rc=1; \
	echo "mypy bench tests/services.py tests/conftest.py"; \
	$(VENV)/bin/mypy bench tests/services.py tests/conftest.py || rc=1; \
	exit $$rc

# For the site box's machine (uname -m there), from any build machine with PyPI access.
PLATFORM ?= $(shell uname -m)
WHEELS ?= dist/wheels
wheels:
	PYTHON=$(PYTHON) scripts/build-wheels --platform $(PLATFORM) $(WHEELS)

lock: | $(UV)
	$(UV) pip compile --quiet --python-version 3.11 pyproject.toml --extra dev -o requirements.lock

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis \
		mutants mutants.log
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
