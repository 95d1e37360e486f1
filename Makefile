# femsolver: make setup | demo | test | clean  (docs/install.md)
.PHONY: setup demo test clean

setup:
	bash scripts/setup.sh

demo: setup
	bash cases/run_li_foil_study.sh

test: setup
	bash scripts/test.sh

# Removes the venv, build leftovers and caches; results/ (your runs) is kept.
clean:
	rm -rf .venv build *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
