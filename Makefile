# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs
# (ffmpeg through apt when missing, a virtualenv with the Python dependencies).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE := samples/demo

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

# An editable install (the repo is the code that runs) always makes setuptools print a banner
# telling developers it is one; the PYTHONWARNINGS filter hides that banner and nothing else.
$(VENV)/.installed: pyproject.toml
	.ci/install-system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: setup
	test -f $(SAMPLE)/stream.mp4 || $(BIN)/python -m peakclip.samples.generate $(SAMPLE)
	$(BIN)/peakclip clip $(SAMPLE)/stream.mp4 --chat $(SAMPLE)/chat.json --out out/demo

# The tests use a real Redis, a real RabbitMQ, a real RTMP recording server, headless Chromium
# to open the review report, and tesseract to read burned-in captions back. Then the docs are
# built as the site would be, into the ignored site/ (strict: a broken link or a page left out of
# mkdocs.yml fails; not --quiet, which hides the warnings --strict counts).
test: setup
	.ci/install-system-deps redis-server rabbitmq-server nginx libnginx-mod-rtmp chromium chromium-driver tesseract-ocr time
	$(BIN)/pytest
	$(BIN)/mkdocs build --strict -d site

clean:
	rm -rf out $(SAMPLE)
