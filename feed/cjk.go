package feed

import (
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// cjkEmphasisParser replaces goldmark's emphasis parser with one that
// follows the CJK-friendly amendment to CommonMark's flanking rules:
// `**最深刻的体验或许是意义感的消失。**我` is bold, as kramdown (and
// Jekyll) renders it, although the closing "**" follows punctuation and
// precedes a letter, which plain CommonMark (and goldmark, even with its
// CJK extension) reads as literal asterisks. A delimiter run next to an
// East Asian wide character counts as next to white space for the
// punctuation rule; everything else is CommonMark's rule.
type cjkEmphasisParser struct{}

// Trigger implements parser.InlineParser.
func (cjkEmphasisParser) Trigger() []byte { return []byte{'*', '_'} }

// Parse implements parser.InlineParser.
func (cjkEmphasisParser) Parse(_ ast.Node, block text.Reader, pc parser.Context) ast.Node {
	before := block.PrecendingCharacter()
	line, segment := block.PeekLine()
	node := scanCJKDelimiter(line, before)
	if node == nil {
		return nil
	}
	node.Segment = segment.WithStop(segment.Start + node.OriginalLength)
	block.Advance(node.OriginalLength)
	pc.PushDelimiter(node)
	return node
}

// scanCJKDelimiter is parser.ScanDelimiter with the CJK-friendly rule.
func scanCJKDelimiter(line []byte, before rune) *parser.Delimiter {
	if len(line) == 0 || (line[0] != '*' && line[0] != '_') {
		return nil
	}
	c := line[0]
	j := 0
	for j < len(line) && line[j] == c {
		j++
	}
	after := ' '
	if j < len(line) {
		after = util.ToRune(line, j)
	}
	beforePunct, beforeSpace := util.IsPunctRune(before), util.IsSpaceRune(before)
	afterPunct, afterSpace := util.IsPunctRune(after), util.IsSpaceRune(after)
	beforeCJK, afterCJK := util.IsEastAsianWideRune(before), util.IsEastAsianWideRune(after)
	isLeft := !afterSpace && (!afterPunct || beforeSpace || beforePunct || beforeCJK)
	isRight := !beforeSpace && (!beforePunct || afterSpace || afterPunct || afterCJK)
	var canOpen, canClose bool
	if c == '_' {
		canOpen = isLeft && (!isRight || beforePunct)
		canClose = isRight && (!isLeft || afterPunct)
	} else {
		canOpen, canClose = isLeft, isRight
	}
	return parser.NewDelimiter(canOpen, canClose, j, c, emphasisProcessor{})
}

// emphasisProcessor is goldmark's emphasis delimiter processor.
type emphasisProcessor struct{}

func (emphasisProcessor) IsDelimiter(b byte) bool { return b == '*' || b == '_' }

func (emphasisProcessor) CanOpenCloser(opener, closer *parser.Delimiter) bool {
	return opener.Char == closer.Char
}

func (emphasisProcessor) OnMatch(consumes int) ast.Node { return ast.NewEmphasis(consumes) }
