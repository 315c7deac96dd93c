package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"

	"tisheng/internal/auth"
	"tisheng/internal/warehouse"
)

// openAccounts opens an existing warehouse's accounts; a mistyped --db is an error, not a
// new empty warehouse.
func openAccounts(ctx context.Context, db string) (*warehouse.Warehouse, *auth.Store, error) {
	if db == "" {
		return nil, nil, errors.New("需要 --db 仓库文件")
	}
	if _, err := os.Stat(db); err != nil {
		return nil, nil, fmt.Errorf("仓库文件 %s 不存在：请检查 --db", db)
	}
	wh, err := warehouse.Open(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	return wh, auth.NewStore(wh.DB, auth.DefaultPolicy), nil
}

// cliActor names who made a change from the command line, for the audit trail.
func cliActor() string {
	if u, err := user.Current(); err == nil {
		return "命令行:" + u.Username
	}
	return "命令行"
}

// recordCLI appends an account change made from the command line to the audit trail.
func recordCLI(ctx context.Context, st *auth.Store, stderr io.Writer, action, object, detail string, err error) {
	e := auth.Entry{User: cliActor(), Role: string(auth.RoleAdmin), Scope: "全部", Action: action, Object: object, Detail: detail, OK: err == nil}
	if err != nil {
		e.Detail += "：" + err.Error()
	}
	if rerr := st.Record(ctx, e); rerr != nil {
		fmt.Fprintln(stderr, "审计日志写入失败：", rerr)
	}
}

// checkKnownScope refuses a district or school the loaded school lists do not name; with
// no school list loaded yet it warns and lets the account be made.
func checkKnownScope(ctx context.Context, wh *warehouse.Warehouse, u auth.User, stderr io.Writer) error {
	l, err := wh.SchoolLists(ctx)
	if err != nil {
		return err
	}
	err = auth.CheckKnownScope(u, l.Districts, l.Schools)
	if errors.Is(err, auth.ErrNoSchoolList) {
		fmt.Fprintf(stderr, "注意：%v。账号照常创建；导入学校信息后请用 tisheng user list 核对它的范围，名称不符的账号看不到任何数据\n", err)
		return nil
	}
	return err
}

// runUser: tisheng user add|list|disable|enable|unlock|passwd.
func runUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	const synopsis = "tisheng user add|list|disable|enable|unlock|passwd --db 文件 [--name 用户名] [--role 角色] [--district 区县] [--school 学校代码] [--password-stdin] [用户名]"
	op, err := subcommand("user", synopsis, []string{"add", "list", "disable", "enable", "unlock", "passwd"}, args, stdout, stderr)
	if err != nil {
		return err
	}
	fs := newFlags("user " + op)
	db := fs.String("db", "", "仓库`文件`")
	name := fs.String("name", "", "用户名")
	role := fs.String("role", "", "角色：admin、district、school、leader")
	district := fs.String("district", "", "区县（district 用户必填；leader 可选）")
	school := fs.String("school", "", "学校代码（school 用户必填）")
	pwStdin := fs.Bool("password-stdin", false, "从标准输入读取密码（一行）；不给则生成随机密码并打印")
	rest, err := parseFlags(fs, synopsis, args[1:], stdout, stderr)
	if err != nil {
		return err
	}
	if *name == "" && len(rest) == 1 && op != "add" && op != "list" {
		*name = rest[0] // `user disable NAME`
	}
	wh, st, err := openAccounts(ctx, *db)
	if err != nil {
		return err
	}
	defer wh.Close()
	record := func(action, object, detail string, err error) {
		recordCLI(ctx, st, stderr, action, object, detail, err)
	}
	password := func() (string, bool, error) {
		if !*pwStdin {
			return auth.GeneratePassword(), true, nil
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, err
		}
		return strings.TrimRight(line, "\r\n"), false, nil
	}
	switch op {
	case "add":
		r, err := auth.ParseRole(*role)
		if err != nil {
			return err
		}
		pw, generated, err := password()
		if err != nil {
			return err
		}
		u := auth.User{Name: strings.TrimSpace(*name), Role: r, District: strings.TrimSpace(*district), School: strings.TrimSpace(*school)}
		err = checkKnownScope(ctx, wh, u, stderr)
		if err == nil {
			err = st.AddUser(ctx, u, pw)
		}
		record(auth.ActUser, *name, "add "+string(r)+" "+*district+*school, err)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "已创建用户 %s（%s，范围：%s）\n", u.Name, r.Label(), u.Scope().String())
		if generated {
			fmt.Fprintf(stdout, "密码：%s\n（只显示这一次，请妥善转交）\n", pw)
		}
	case "list":
		us, err := st.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "用户名\t角色\t范围\t状态\t创建时间")
		for _, u := range us {
			state := "正常"
			if u.Disabled {
				state = "已停用"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Scope().String(), state, u.CreatedAt.Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "disable", "enable":
		if *name == "" {
			return errors.New("需要用户名：tisheng user " + op + " --db FILE NAME")
		}
		err := st.SetDisabled(ctx, *name, op == "disable")
		record(auth.ActUser, *name, op, err)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s：%s\n", map[string]string{"disable": "已停用", "enable": "已启用"}[op], *name)
	case "unlock":
		if *name == "" {
			return errors.New("需要用户名：tisheng user unlock --db FILE NAME")
		}
		_, err := st.Unlock(ctx, *name)
		record(auth.ActUser, *name, "unlock", err)
		if err != nil {
			return err
		}
		// The server keeps its login throttling in memory and holds the warehouse while it
		// runs, so this command runs with it stopped, and the server starts unthrottled.
		fmt.Fprintf(stdout, "已解除 %s 的登录限制。服务运行时的登录限流在内存中：运行中请在「管理」页面点「解除登录限制」，或 POST /api/admin/users/%s/unlock\n", *name, *name)
	case "passwd":
		if *name == "" {
			return errors.New("需要用户名：tisheng user passwd --db FILE NAME")
		}
		pw, generated, err := password()
		if err != nil {
			return err
		}
		err = st.SetPassword(ctx, *name, pw)
		record(auth.ActUser, *name, "passwd", err)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "已更改 %s 的密码\n", *name)
		if generated {
			fmt.Fprintf(stdout, "新密码：%s\n（只显示这一次）\n", pw)
		}
	default:
		return fmt.Errorf("未知的 user 子命令 %q：应为 add、list、disable、enable、unlock 或 passwd", op)
	}
	return nil
}

// runToken: tisheng token add|list|revoke.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "tisheng token add --db 文件 --user 用户名 | list --db 文件 | revoke --db 文件 令牌编号"
	op, err := subcommand("token", synopsis, []string{"add", "list", "revoke"}, args, stdout, stderr)
	if err != nil {
		return err
	}
	fs := newFlags("token " + op)
	db := fs.String("db", "", "仓库`文件`")
	name := fs.String("user", "", "令牌所属`用户名`")
	rest, err := parseFlags(fs, synopsis, args[1:], stdout, stderr)
	if err != nil {
		return err
	}
	wh, st, err := openAccounts(ctx, *db)
	if err != nil {
		return err
	}
	defer wh.Close()
	record := func(object, detail string, err error) { recordCLI(ctx, st, stderr, auth.ActToken, object, detail, err) }
	switch op {
	case "add":
		if *name == "" {
			return errors.New("需要 --user 用户名")
		}
		id, tok, err := st.AddToken(ctx, *name)
		record(*name, "add "+id, err)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "令牌 %s（用户 %s）：\n%s\n（只显示这一次；脚本中用请求头 Authorization: Bearer 令牌）\n", id, *name, tok)
	case "list":
		ts, err := st.Tokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "编号\t用户\t创建时间\t状态")
		for _, t := range ts {
			state := "有效"
			if t.Revoked {
				state = "已吊销"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.User, t.CreatedAt.Format("2006-01-02 15:04"), state)
		}
		return tw.Flush()
	case "revoke":
		if len(rest) != 1 {
			return usagef("用法：tisheng token revoke --db 文件 令牌编号")
		}
		err := st.RevokeToken(ctx, rest[0])
		record(rest[0], "revoke", err)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "已吊销令牌 %s\n", rest[0])
	default:
		return fmt.Errorf("未知的 token 子命令 %q：应为 add、list 或 revoke", op)
	}
	return nil
}
