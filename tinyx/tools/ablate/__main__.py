from tinyx.tools.ablate.cli import run

run()
