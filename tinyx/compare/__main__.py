from tinyx.compare.cli import run

run()
