from ragdesk.cli import main

main()
