// Package config is planned; see ARCHITECTURE.md.
package config
