# fediverse-pasture's verify_actor app on loopback, like ../shared/peers/pasture's launcher,
# but with test actors on `localhost:PORT` instead of `127.0.0.1:PORT`: activitypub_federation
# (Lyceum's federation library, as in Lemmy) refuses actors whose host is an IP address.
#   python verify_actor_localhost.py PORT
import sys
from fediverse_pasture.verify_actor import build_app

port = int(sys.argv[1]) if len(sys.argv) > 1 else 2909
# (only_generate_config, domain, https, timeout in seconds)
app = build_app(False, f"localhost:{port}", False, 20)
app.run(port=port, host="127.0.0.1")
