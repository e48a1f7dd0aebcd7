from tinyx.tools.ladder.cli import run

run()
