from mr.cli.worker import console

console()
