from bpo_cli.main import app

app()
