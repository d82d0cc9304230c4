# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs
# (ffmpeg through apt when missing, a virtualenv with the Python dependencies).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE := samples/demo

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	.ci/install-system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# An editable install (the repo is the code that runs) always makes setuptools print a banner
	# telling developers it is one; this filter hides that banner and nothing else.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: setup
	test -f $(SAMPLE)/stream.mp4 || $(BIN)/python -m samples.generate $(SAMPLE)
	$(BIN)/peakclip clip $(SAMPLE)/stream.mp4 --chat $(SAMPLE)/chat.json --out out/demo

test: setup
	# real Redis, a real RTMP recording server, and headless Chromium to open the review report
	.ci/install-system-deps redis-server nginx libnginx-mod-rtmp chromium chromium-driver
	$(BIN)/pytest

clean:
	rm -rf out $(SAMPLE)
