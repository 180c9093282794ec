#!/bin/sh
# Runs the CPI command it is given; it exists so that the test CPI release has a package to compile.
exec "$@"
