# The two commands a newcomer needs: `make demo` (the main job, end to end) and `make test`.
.PHONY: demo test test-slow venv

venv:
	@bash scripts/bootstrap.sh

demo: venv
	.venv/bin/vistakit bench codec

test: venv
	.venv/bin/python -m pytest

test-slow: venv
	.venv/bin/python -m pytest -m slow
