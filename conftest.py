pytest_plugins = ["bpo_devtools.testing"]
