namespace NativeCert.Kernels.Device;

// Written out in full (generated) so that ILGPU keeps all 64 sums in registers; a local array would live in memory.

/// <summary>64 running sums of one thread's 8×8 output patch, kept in registers.</summary>
internal struct Accumulator8x8
{
    public float C00, C01, C02, C03, C04, C05, C06, C07, C10, C11, C12, C13, C14, C15, C16, C17, C20, C21, C22, C23, C24, C25, C26, C27, C30, C31, C32, C33, C34, C35, C36, C37, C40, C41, C42, C43, C44, C45, C46, C47, C50, C51, C52, C53, C54, C55, C56, C57, C60, C61, C62, C63, C64, C65, C66, C67, C70, C71, C72, C73, C74, C75, C76, C77;

    public void Fma(float a0, float a1, float a2, float a3, float a4, float a5, float a6, float a7,
                    float b0, float b1, float b2, float b3, float b4, float b5, float b6, float b7)
    {
        C00 += a0 * b0; C01 += a0 * b1; C02 += a0 * b2; C03 += a0 * b3; C04 += a0 * b4; C05 += a0 * b5; C06 += a0 * b6; C07 += a0 * b7;
        C10 += a1 * b0; C11 += a1 * b1; C12 += a1 * b2; C13 += a1 * b3; C14 += a1 * b4; C15 += a1 * b5; C16 += a1 * b6; C17 += a1 * b7;
        C20 += a2 * b0; C21 += a2 * b1; C22 += a2 * b2; C23 += a2 * b3; C24 += a2 * b4; C25 += a2 * b5; C26 += a2 * b6; C27 += a2 * b7;
        C30 += a3 * b0; C31 += a3 * b1; C32 += a3 * b2; C33 += a3 * b3; C34 += a3 * b4; C35 += a3 * b5; C36 += a3 * b6; C37 += a3 * b7;
        C40 += a4 * b0; C41 += a4 * b1; C42 += a4 * b2; C43 += a4 * b3; C44 += a4 * b4; C45 += a4 * b5; C46 += a4 * b6; C47 += a4 * b7;
        C50 += a5 * b0; C51 += a5 * b1; C52 += a5 * b2; C53 += a5 * b3; C54 += a5 * b4; C55 += a5 * b5; C56 += a5 * b6; C57 += a5 * b7;
        C60 += a6 * b0; C61 += a6 * b1; C62 += a6 * b2; C63 += a6 * b3; C64 += a6 * b4; C65 += a6 * b5; C66 += a6 * b6; C67 += a6 * b7;
        C70 += a7 * b0; C71 += a7 * b1; C72 += a7 * b2; C73 += a7 * b3; C74 += a7 * b4; C75 += a7 * b5; C76 += a7 * b6; C77 += a7 * b7;
    }

    /// <summary>
    /// Hands all 64 sums to <paramref name="s"/> (a store or an optimizer step), each with constant (i, j), so that no
    /// register is picked by a run-time index (which compiled to a 64-way indirect branch, brx.idx, in the epilogue).
    /// </summary>
    public readonly void StoreTo<TSink>(in TSink s) where TSink : struct, ITileSink
    {
        s.Write(0, 0, C00); s.Write(0, 1, C01); s.Write(0, 2, C02); s.Write(0, 3, C03); s.Write(0, 4, C04); s.Write(0, 5, C05); s.Write(0, 6, C06); s.Write(0, 7, C07);
        s.Write(1, 0, C10); s.Write(1, 1, C11); s.Write(1, 2, C12); s.Write(1, 3, C13); s.Write(1, 4, C14); s.Write(1, 5, C15); s.Write(1, 6, C16); s.Write(1, 7, C17);
        s.Write(2, 0, C20); s.Write(2, 1, C21); s.Write(2, 2, C22); s.Write(2, 3, C23); s.Write(2, 4, C24); s.Write(2, 5, C25); s.Write(2, 6, C26); s.Write(2, 7, C27);
        s.Write(3, 0, C30); s.Write(3, 1, C31); s.Write(3, 2, C32); s.Write(3, 3, C33); s.Write(3, 4, C34); s.Write(3, 5, C35); s.Write(3, 6, C36); s.Write(3, 7, C37);
        s.Write(4, 0, C40); s.Write(4, 1, C41); s.Write(4, 2, C42); s.Write(4, 3, C43); s.Write(4, 4, C44); s.Write(4, 5, C45); s.Write(4, 6, C46); s.Write(4, 7, C47);
        s.Write(5, 0, C50); s.Write(5, 1, C51); s.Write(5, 2, C52); s.Write(5, 3, C53); s.Write(5, 4, C54); s.Write(5, 5, C55); s.Write(5, 6, C56); s.Write(5, 7, C57);
        s.Write(6, 0, C60); s.Write(6, 1, C61); s.Write(6, 2, C62); s.Write(6, 3, C63); s.Write(6, 4, C64); s.Write(6, 5, C65); s.Write(6, 6, C66); s.Write(6, 7, C67);
        s.Write(7, 0, C70); s.Write(7, 1, C71); s.Write(7, 2, C72); s.Write(7, 3, C73); s.Write(7, 4, C74); s.Write(7, 5, C75); s.Write(7, 6, C76); s.Write(7, 7, C77);
    }
}
