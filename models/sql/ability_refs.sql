-- The ability point each assessment names, worked out at refresh against the profile's
-- catalogue (its latest version), so that a catalogue loaded after its assessments counts for
-- them. A row gives a code (A1), a code and a name (A1 技术支持的学情分析, A1技术…) or a name
-- alone; ingest keeps that text full-width folded and trimmed (ability_given). Names compare
-- without spaces and quotes. ability_code is NULL, with the reason, where the text names no
-- point of the catalogue, names several, or gives a code and a name that disagree.
-- @label: 能力点文字的解读
-- @months: text ability_given
-- @scope: text
-- @doc-order: 230
WITH p AS (SELECT catalogue FROM profile),
cat AS (
    SELECT code, name,
           -- full-width ASCII folded, spaces and quotes dropped: as ingest normalises names
           regexp_replace(translate(name, '！＂＃＄％＆＇（）＊＋，－．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～', '!"#$%&''()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefghijklmnopqrstuvwxyz{|}~'), '[ \t\x{3000}“”"「」]', '', 'g') AS name_norm
    FROM profile_catalogue
),
by_name AS (
    SELECT name_norm, count(*) AS n, min(code) AS code, string_agg(code, '、' ORDER BY code) AS codes
    FROM cat
    GROUP BY name_norm
),
asked AS (
    SELECT ability_given,
           upper(nullif(regexp_extract(ability_given, '^([A-Za-z]{1,2}\d{1,2})\s*[.、:：\-_]?\s*(.*)$', 1), '')) AS code_given,
           regexp_replace(regexp_extract(ability_given, '^([A-Za-z]{1,2}\d{1,2})\s*[.、:：\-_]?\s*(.*)$', 2), '[ \t“”"「」]', '', 'g') AS rest,
           regexp_replace(ability_given, '[ \t“”"「」]', '', 'g') AS given_norm
    FROM (SELECT DISTINCT ability_given FROM raw_assessments
          WHERE ability_given IS NOT NULL AND catalogue = (SELECT catalogue FROM p))
)
SELECT a.ability_given,
       CASE WHEN c.code IS NOT NULL THEN CASE WHEN a.rest IN ('', c.name_norm) THEN c.code END
            WHEN a.code_given IS NOT NULL AND a.rest <> '' THEN NULL
            WHEN n.n = 1 THEN n.code END AS ability_code,
       CASE WHEN c.code IS NOT NULL THEN
                CASE WHEN a.rest NOT IN ('', c.name_norm)
                     THEN '能力点「' || a.ability_given || '」编号与名称不符：' || c.code || ' 是「' || c.name || '」' END
            WHEN (a.code_given IS NOT NULL AND a.rest <> '') OR n.n IS NULL
                THEN '能力点「' || a.ability_given || '」不在「' || (SELECT catalogue FROM p) || '」目录中'
            WHEN n.n > 1 THEN '能力点「' || a.ability_given || '」在目录中对应多个编号（' || n.codes || '），请写明编号'
       END AS unmatched_reason
FROM asked a
LEFT JOIN cat c ON c.code = a.code_given
LEFT JOIN by_name n ON n.name_norm = a.given_norm
