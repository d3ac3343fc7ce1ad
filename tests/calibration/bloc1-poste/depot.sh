# The company repository /srv/depot, as the helpdesk publishes it: not yet declared in the
# workstation's APT sources.
set -e
depot_package gestcompta 2.3-1
depot_index
