"""``python -m geoplan``: the same command line as the ``geoplan`` script."""

from geoplan.cli import main

if __name__ == "__main__":
    main()
