package tokenize_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/ophicleide/ophicleide/internal/tokenize"
)

func ExampleScanner() {
	text := "It is a truth universally acknowledged. Isn’t it?\r\n\r\nCafé au lait, 3.14 cups"
	s, err := tokenize.NewScanner(strings.NewReader(text), tokenize.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for s.Scan() {
		fmt.Printf("%q\n", s.Sentence())
	}
	if err := s.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// ["it" "is" "a" "truth" "universally" "acknowledged"]
	// ["isn't" "it"]
	// ["café" "au" "lait" "3" "14" "cups"]
}

func ExampleTokenize() {
	for _, mode := range tokenize.Modes {
		sents, err := tokenize.Tokenize("Don’t panic.\r\n\r\nMostly harmless!", tokenize.Options{Mode: mode})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-10s %q\n", mode, sents)
	}
	// Output:
	// unicode    [["don't" "panic"] ["mostly" "harmless"]]
	// classic    [["don" "t" "panic"] ["mostly" "harmless"]]
	// whitespace [["Don’t" "panic."] ["Mostly" "harmless!"]]
}
