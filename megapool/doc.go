// Package megapool is planned; see ARCHITECTURE.md.
package megapool
