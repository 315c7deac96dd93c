#!/bin/sh
# 在备份机上运行：把 tisheng 服务器上最新的一份已校验备份经 SSH 拉到本机，核对 SHA256SUMS 后
# 才放到正式位置（详见 docs/运维手册.md 7.5）。由备份机来拉，服务器就删不掉备份机上的副本。
#
# 用法：TISHENG_SERVER=root@tisheng.example.cn TISHENG_DEST=/srv/tisheng-backups tisheng-backup-pull
#   TISHENG_SERVER      能读取服务器备份目录的 SSH 账号和地址（需已配置免密钥登录）
#   TISHENG_DEST        本机保存备份的目录
#   TISHENG_BACKUP_DIR  服务器上的备份目录，默认 /var/lib/tisheng/backups
# 已拉过的备份不再重复拉；中途失败留下的 .incoming 目录下次清掉重来。
# 备份里有密钥和个人信息：保存目录只有本用户能读（umask 077）。
set -eu
server=${TISHENG_SERVER:?请设置 TISHENG_SERVER，如 root@tisheng.example.cn}
dest=${TISHENG_DEST:?请设置 TISHENG_DEST，如 /srv/tisheng-backups}
src=${TISHENG_BACKUP_DIR:-/var/lib/tisheng/backups}
umask 077

# 完整可用的备份：名字以日期开头、不以 .failed 结尾（没写完的以 .partial- 开头，不会被选中）；
# 名字按北京时间排序，最后一个是最新的
newest=$(ssh -o BatchMode=yes "$server" "find '$src' -mindepth 1 -maxdepth 1 -type d -name '2*' ! -name '*.failed' | sort | tail -n 1")
if [ -z "$newest" ]; then
	echo "tisheng-backup-pull：$server 的 $src 中没有完整可用的备份" >&2
	exit 1
fi
name=$(basename "$newest")
if [ -d "$dest/$name" ]; then
	echo "已有 $dest/$name，不再重复拉取"
	exit 0
fi
mkdir -p "$dest"
rm -rf "$dest/.incoming"
mkdir "$dest/.incoming"
ssh -o BatchMode=yes "$server" "tar -C '$src' -cf - '$name'" | tar -C "$dest/.incoming" -xf -
if ! (cd "$dest/.incoming/$name" && sha256sum --check --quiet SHA256SUMS); then
	echo "tisheng-backup-pull：$name 的校验和不符或文件不全，没有保存（留在 $dest/.incoming 供检查）" >&2
	exit 1
fi
mv "$dest/.incoming/$name" "$dest/$name"
rmdir "$dest/.incoming"
echo "已保存 $dest/$name"
