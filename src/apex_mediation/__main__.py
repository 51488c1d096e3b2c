from apex_mediation.cli import main

main()
