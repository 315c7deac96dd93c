package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// errHelp is -h: the usage was printed and the command ends well.
var errHelp = errors.New("help")

// usageError is a command line that cannot run (exit status 2); its message is Chinese.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// newFlags makes a flag set that prints nothing itself: parseFlags says what went wrong,
// in Chinese, and prints the usage.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

var flagErrors = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`^flag provided but not defined: -+(.*)$`), "没有这个选项：--$1"},
	{regexp.MustCompile(`^flag needs an argument: -+(.*)$`), "选项 --$1 需要一个值"},
	{regexp.MustCompile(`^invalid (?:boolean )?value (".*") for (?:flag )?-+([^:]*): .*$`), "选项 --$2 的值 $1 无效"},
	{regexp.MustCompile(`^bad flag syntax: (.*)$`), "选项写法有误：$1"},
}

// parseFlags parses args and returns the arguments that are not flags; flags may come
// after them too (`ingest FILE… --school X=FILE`), up to a "--". -h prints the usage to
// out and returns errHelp; a bad flag prints the usage to errw and returns a usageError
// naming the flag.
func parseFlags(fs *flag.FlagSet, synopsis string, args []string, out, errw io.Writer) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(fs, synopsis, err, out, errw)
		}
		left := fs.Args()
		if used := len(args) - len(left); used > 0 && args[used-1] == "--" {
			return append(rest, left...), nil
		}
		if len(left) == 0 {
			return rest, nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

func flagError(fs *flag.FlagSet, synopsis string, err error, out, errw io.Writer) error {
	if errors.Is(err, flag.ErrHelp) {
		printUsage(out, fs, synopsis)
		return errHelp
	}
	msg := err.Error()
	for _, fe := range flagErrors {
		if fe.re.MatchString(msg) {
			msg = fe.re.ReplaceAllString(msg, fe.repl)
			break
		}
	}
	printUsage(errw, fs, synopsis)
	return usageError{msg}
}

// typeNames name a flag's value where its usage text gives no `placeholder`.
var typeNames = map[string]string{"string": "文本", "int": "整数", "int64": "整数", "uint": "整数", "float": "数值", "duration": "时长", "value": "值"}

// printUsage writes the synopsis and every option with its Chinese description and default.
func printUsage(w io.Writer, fs *flag.FlagSet, synopsis string) {
	fmt.Fprintf(w, "用法：%s\n\n选项：\n", synopsis)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if t, ok := typeNames[name]; ok {
			name = t
		}
		head := "  --" + f.Name
		if name != "" {
			head += " " + name
		}
		switch f.DefValue {
		case "", "0", "false", "0s":
		default:
			usage += "（默认 " + f.DefValue + "）"
		}
		fmt.Fprintf(w, "%s\n        %s\n", head, strings.ReplaceAll(usage, "\n", "\n        "))
	})
}

// subcommand reads the sub-command of a command with several (user add, batch rm, …):
// -h, --help or help prints the command's usage and ends well; nothing, or one the command
// does not have, is a command line that cannot run (exit 2), with the usage.
func subcommand(cmd, synopsis string, ops []string, args []string, stdout, stderr io.Writer) (string, error) {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "用法：%s\n", synopsis)
		return "", usagef("tisheng %s 需要子命令：%s", cmd, strings.Join(ops, "、"))
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		fmt.Fprintf(stdout, "用法：%s\n\n每个子命令后加 -h 查看它的全部选项。\n", synopsis)
		return "", errHelp
	}
	for _, op := range ops {
		if args[0] == op {
			return op, nil
		}
	}
	fmt.Fprintf(stderr, "用法：%s\n", synopsis)
	return "", usagef("tisheng %s 没有子命令「%s」（可选：%s）", cmd, args[0], strings.Join(ops, "、"))
}
