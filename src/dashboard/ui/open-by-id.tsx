/** A small form: go to the workflow of an id or alias. */
import { useState } from 'preact/hooks';

export function OpenById() {
  const [id, setId] = useState('');
  return (
    <form
      class="open-by-id"
      onSubmit={(e) => {
        e.preventDefault();
        if (id.trim() !== '') location.hash = `#/w/${encodeURIComponent(id.trim())}`;
      }}
    >
      <label>
        Workflow id or alias
        <input value={id} onInput={(e) => setId(e.currentTarget.value)} required />
      </label>
      <button type="submit">Open</button>
    </form>
  );
}
