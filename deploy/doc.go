// Package deploy holds no code: it is the deployment material (Dockerfile,
// docker-compose.yml, Prometheus and Grafana provisioning, the systemd unit,
// the example configuration) and the tests that keep it consistent with the
// metric set in watchtower/metrics. See README.md.
package deploy
