# The Consul client agent on each Redis host (host A shown; on B use 10.0.0.12).
# /etc/consul.d/agent.hcl, next to consul.d/redis.json of this example.
datacenter = "dc1"
data_dir   = "/opt/consul"
bind_addr  = "10.0.0.11"
# HTTP and DNS on loopback only: the check talks to its own agent, applications ask dnsmasq.
client_addr = "127.0.0.1"
ports {
  dns = 8600
}
retry_join = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]

# Script checks from config files only. Never enable_script_checks: it also accepts script
# checks through the HTTP API, which anyone who reaches the API can use to run commands
# (HashiCorp's advisory of November 2018; exploited in the wild).
enable_local_script_checks = true

acl {
  enabled        = true
  default_policy = "deny"
  # The check inherits the agent's environment: give the agent's systemd unit
  # Environment=CONSUL_HTTP_TOKEN_FILE=/etc/consul.d/redis-check.token with a token that has
  # agent:read (who am I), service:read on redis and, for --publish-tags, service:write on redis.
}
