module github.com/ophicleide/ophicleide

go 1.26.8

require golang.org/x/sys v0.50.0

require (
	golang.org/x/term v0.48.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
)
