// A strict RFC 4180 reader used to check the export round-trips (quotes, commas, CR/LF in cells).

export function parseCsv(text) {
    const rows = [];
    let row = [];
    let cell = "";
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
        const ch = text[i];
        if (quoted) {
            if (ch === '"' && text[i + 1] === '"') {
                cell += '"';
                i++;
            } else if (ch === '"') {
                quoted = false;
            } else {
                cell += ch;
            }
        } else if (ch === '"') {
            if (cell !== "") {
                throw new Error(`quote inside an unquoted cell at ${i}`);
            }
            quoted = true;
        } else if (ch === ",") {
            row.push(cell);
            cell = "";
        } else if (ch === "\r" && text[i + 1] === "\n") {
            row.push(cell);
            rows.push(row);
            row = [];
            cell = "";
            i++;
        } else if (ch === "\n" || ch === "\r") {
            throw new Error(`bare line break outside quotes at ${i}`);
        } else {
            cell += ch;
        }
    }
    if (quoted) {
        throw new Error("unterminated quote");
    }
    if (cell !== "" || row.length) {
        throw new Error("the last row has no CRLF");
    }
    return rows;
}
