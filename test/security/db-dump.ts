// Every row of every table of a test database as text, to grep for secrets that must never be stored.
import postgres from 'postgres';

export async function dumpDatabase(url: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const tables = await sql<Array<{ table_name: string }>>`select table_name from information_schema.tables where table_schema = 'public'`;
    let out = '';
    for (const { table_name } of tables) {
      const rows = await sql.unsafe(`select row_to_json(t)::text as j from "${table_name.replaceAll('"', '""')}" t`);
      for (const r of rows) out += `${table_name} ${String((r as unknown as { j: string }).j)}\n`;
    }
    return out;
  } finally {
    await sql.end();
  }
}
