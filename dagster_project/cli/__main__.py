from dagster_project.cli.main import main

main()
