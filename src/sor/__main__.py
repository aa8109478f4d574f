from sor.cli import main

main()
