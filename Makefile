# The two commands a newcomer needs: `make demo` (the main job, end to end) and `make test`.
.PHONY: demo test bench venv

venv:
	@bash scripts/bootstrap.sh

demo: venv
	.venv/bin/vistakit demo --out demo

test: venv
	.venv/bin/python -m pytest

bench: venv
	.venv/bin/vistakit bench codec
