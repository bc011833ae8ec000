from tokenprice.cli import main

raise SystemExit(main())
