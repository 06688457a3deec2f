from .cli.program import run

run()
