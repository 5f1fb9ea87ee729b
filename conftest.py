pytest_plugins = ["bpo_common.testing"]
