from riec.cli.main import app

app()
