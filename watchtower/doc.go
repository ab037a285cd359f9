// Package watchtower is planned; see ARCHITECTURE.md.
package watchtower
